"""``sloguard convert FILE [--to FORMAT] [-o OUT]``: move SLO files between sloguard and its peers.

A Sloth, OpenSLO, Pyrra or slo-generator file becomes the equivalent ``sloguard/v1`` document
(``--to sloguard``, the default for those); a ``sloguard/v1`` file becomes a Sloth
``prometheus/v1`` spec (``--to sloth``) or OpenSLO v1 documents (``--to openslo``). The file is
checked first exactly as ``sloguard validate`` checks it: with problems, nothing is written and
each problem is printed with the source file's line and field. What the conversion changed on
purpose is printed as a notice on stderr. PyYAML keeps no comments, so the source's comments
are not carried over (the output's first line says so).

Exit status: 0 written, 1 problems, 2 usage errors.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sloguard.commands import Command, CommandFailed
from sloguard.errors import ConfigError
from sloguard.slo.loader import API_VERSION, SLOCheck, check_slo_docs, check_translation
from sloguard.slo.peers import slogenerator
from sloguard.slo.peers.formats import detect
from sloguard.slo.spec import SLO
from sloguard.yamldoc import YamlDoc, load_yaml, load_yaml_all

__all__ = ["CONVERT", "convert_documents"]

TARGETS = ("sloguard", "sloth", "openslo")


def convert_documents(
    docs: Sequence[YamlDoc],
    to: str | None,
    *,
    budget_policies: Mapping[str, Any] | None = None,
) -> tuple[list[Any], SLOCheck]:
    """The documents ``docs`` (one file) converted to ``to`` (default: sloguard for a peer
    file), with the check that allowed it; raise :class:`ConfigError` on problems and
    :class:`CommandFailed` for a conversion that makes no sense (sloguard to sloguard).

    ``budget_policies`` are slo-generator's ``error_budget_policies`` (its shared config),
    which give an slo-generator SLO its windows and tiers.
    """
    translation = None
    if (
        budget_policies is not None
        and docs
        and any(
            isinstance(d.data, dict) and d.data.get("apiVersion") in slogenerator.VERSIONS
            for d in docs
        )
    ):
        translation = slogenerator.translate_with_policies(docs, budget_policies)
        check = check_translation(docs, translation)
    else:
        check = check_slo_docs(docs)
    if check.problems or check.slo_file is None:
        raise ConfigError(check.problems)
    source = "sloguard" if check.format == API_VERSION else check.format.lower()
    target = to or ("sloguard" if source != "sloguard" else None)
    if target is None:
        raise CommandFailed(
            f"{docs[0].file} is already a {API_VERSION} file: give --to sloth or --to openslo"
        )
    if target == "sloguard":
        if source == "sloguard":
            raise CommandFailed(f"{docs[0].file} is already a {API_VERSION} file")
        if translation is None:
            fmt = detect(docs[0].data)
            if fmt is None:  # cannot happen: the check found a peer format
                raise CommandFailed(f"{docs[0].file}: no peer format recognised")
            translation = fmt.translate(docs)
        return [dict(translation.data)], check
    slos = check.slo_file.slos
    return _to_peer(target, slos), check


def _to_peer(target: str, slos: Sequence[SLO]) -> list[Any]:
    if target == "sloth":
        from sloguard.slo.peers.slothout import to_sloth

        return [to_sloth(slos)]
    from sloguard.slo.peers.opensloout import to_openslo

    return list(to_openslo(slos))


def _budget_policies(path: str | None) -> Mapping[str, Any] | None:
    if path is None:
        return None
    doc = load_yaml(path)
    policies = doc.data.get("error_budget_policies") if isinstance(doc.data, dict) else None
    if not isinstance(policies, dict):
        raise ConfigError(
            [doc.problem(("error_budget_policies",), "must be a mapping of named policies")]
        )
    return policies


def _header(check: SLOCheck, target: str) -> str:
    source = check.format if check.format != API_VERSION else API_VERSION
    return (
        f"# Converted from {source} ({check.file}) to {target} by `sloguard convert`.\n"
        "# The source's comments are not carried over.\n"
    )


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="FILE", help="an SLO file (sloguard or a peer format)")
    parser.add_argument(
        "--to",
        choices=TARGETS,
        help="the format to write (default: sloguard for a peer file; required for sloguard)",
    )
    parser.add_argument(
        "--slo-generator-config",
        metavar="FILE",
        help="slo-generator's shared config: its error_budget_policies give the windows and "
        "tiers (without it: sloguard's default policy, with a notice)",
    )
    parser.add_argument(
        "-o", "--output", metavar="OUT", default="-", help="the file to write (default: stdout)"
    )


def _convert(args: argparse.Namespace) -> int:
    docs = load_yaml_all(args.path)
    out, check = convert_documents(
        docs, args.to, budget_policies=_budget_policies(args.slo_generator_config)
    )
    target = args.to or "sloguard"
    for notice in check.notices:
        print(f"notice: {notice}", file=sys.stderr)
    text = _header(check, target) + yaml.safe_dump_all(
        out, sort_keys=False, allow_unicode=True, explicit_start=len(out) > 1
    )
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({target})", file=sys.stderr)
    return 0


CONVERT = Command(
    name="convert",
    summary="convert SLO files: Sloth/OpenSLO/Pyrra/slo-generator to sloguard, sloguard to "
    "Sloth or OpenSLO",
    examples=(
        "sloguard convert sloth-slos.yml -o slos.yaml",
        "sloguard convert config/slos.yaml --to openslo",
    ),
    add_arguments=_add_arguments,
    handler=_convert,
)
