// Parse Mermaid diagrams with the real mermaid parser, headless (no DOM is needed to parse).
//
// stdin: a JSON array of diagram texts. stdout: a JSON array, one result per diagram:
//   {"ok": true, "type": "sequence", "actors": [{"id", "name"}],
//    "messages": [{"from", "to", "type", "text"}]}
//   {"ok": false, "error": "Parse error on line 2: ..."}
// Texts are decoded from mermaid's entity placeholders (what `#59;` becomes while parsing), so
// a test can compare them with the names it put in. Run by tests/test_debug_mermaid.py from the
// directory `npm ci` installed mermaid into (.cache/node/...), one process for all diagrams.
import mermaid from 'mermaid';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const diagrams = JSON.parse(Buffer.concat(chunks).toString('utf8'));

// mermaid's encodeEntities turns `#59;` into `ﬂ°°59¶ß` and `#quot;` into `ﬂ°quot¶ß`.
const decode = (s) =>
  s == null
    ? s
    : String(s)
        .replace(/ﬂ°°(\d+)¶ß/g, (_, n) => String.fromCodePoint(Number(n)))
        .replace(/ﬂ°(\w+)¶ß/g, (_, name) => `&${name};`);

const results = [];
for (const text of diagrams) {
  try {
    const parsed = await mermaid.parse(text); // throws on invalid diagrams
    const out = { ok: true, type: parsed.diagramType, actors: [], messages: [] };
    if (parsed.diagramType === 'sequence') {
      const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
      const db = diagram.db;
      const lineType = Object.fromEntries(Object.entries(db.LINETYPE).map(([k, v]) => [v, k]));
      for (const [id, actor] of db.getActors()) {
        out.actors.push({ id, name: decode(actor.description) });
      }
      for (const m of db.getMessages()) {
        out.messages.push({
          from: m.from ?? null,
          to: m.to ?? null,
          type: lineType[m.type] ?? String(m.type),
          text: decode(m.message),
        });
      }
    }
    results.push(out);
  } catch (err) {
    results.push({ ok: false, error: String(err?.message ?? err).split('\n').slice(0, 3).join(' | ') });
  }
}
process.stdout.write(JSON.stringify(results));
