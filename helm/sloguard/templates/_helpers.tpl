{{/*
Names, labels and the pieces shared by the daemon Deployment and the sidecar.
*/}}

{{- define "sloguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: <release>-sloguard, or the release name when it already
contains the chart name. Truncated to 63 characters (DNS label).
*/}}
{{- define "sloguard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sloguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sloguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sloguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sloguard.labels" -}}
helm.sh/chart: {{ include "sloguard.chart" . }}
{{ include "sloguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sloguard
{{- end }}

{{/* The daemon's pods (not the demo agent's): what the Service selects. */}}
{{- define "sloguard.serverSelectorLabels" -}}
{{ include "sloguard.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "sloguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sloguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sloguard.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The shared store's URL: storage.url, else config.storage.url; "" for none (SQLite files).
*/}}
{{- define "sloguard.storageUrl" -}}
{{- $cfg := default dict .Values.config }}
{{- $fromConfig := "" }}
{{- if kindIs "map" $cfg.storage }}
{{- $fromConfig = default "" $cfg.storage.url }}
{{- end }}
{{- default $fromConfig ((.Values.storage).url) }}
{{- end }}

{{/* "true" when the stores are a shared PostgreSQL database. */}}
{{- define "sloguard.sharedStore" -}}
{{- if regexMatch "^postgres(ql)?://" (include "sloguard.storageUrl" .) }}true{{ end }}
{{- end }}

{{/*
Replicas of the daemon: the evaluator (modes all and evaluator) keeps its alert state and outbox
in SQLite files of its own unless the stores are a shared PostgreSQL (storage.url); only then
do replicas elect one leader that evaluates and notifies, otherwise two would notify twice.
values.schema.json says so too; this also holds when the schema is skipped.
*/}}
{{- define "sloguard.replicas" -}}
{{- $n := int .Values.replicaCount }}
{{- if and (ne .Values.mode "exporter") (ne $n 1) (not (include "sloguard.sharedStore" .)) }}
{{- fail (printf "replicaCount %d in mode %q needs a shared PostgreSQL store: set storage.url: postgresql://user@host:5432/db (the password in existingSecret, key storage-password); without one the evaluator is a singleton (use mode exporter or the sidecar to scale ingest)" $n .Values.mode) }}
{{- end }}
{{- if and (gt $n 1) .Values.persistence.enabled (not .Values.persistence.existingClaim) (has "ReadWriteOnce" .Values.persistence.accessModes) }}
{{- fail (printf "replicaCount %d with persistence.enabled: one ReadWriteOnce volume cannot serve every replica; the shared stores live in PostgreSQL, set persistence.enabled: false" $n) }}
{{- end }}
{{- $n }}
{{- end }}

{{/*
Pod affinity of the daemon: .Values.affinity when set, else the podAntiAffinity preset
(soft: preferred, hard: required) spreading replicas over .Values.podAntiAffinityTopologyKey.
*/}}
{{- define "sloguard.affinity" -}}
{{- if .Values.affinity }}
{{- toYaml .Values.affinity }}
{{- else if .Values.podAntiAffinity }}
{{- $term := dict "topologyKey" .Values.podAntiAffinityTopologyKey "labelSelector" (dict "matchLabels" (include "sloguard.serverSelectorLabels" . | fromYaml)) }}
podAntiAffinity:
{{- if eq .Values.podAntiAffinity "hard" }}
  requiredDuringSchedulingIgnoredDuringExecution:
    {{- toYaml (list $term) | nindent 4 }}
{{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    {{- toYaml (list (dict "weight" 100 "podAffinityTerm" $term)) | nindent 4 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Environment variables from an existing Secret, as optional references (a key the Secret lacks
leaves the variable unset). Takes (dict "secret" NAME "env" {VAR: key}).
*/}}
{{- define "sloguard.secretEnv" -}}
{{- $secret := .secret }}
{{- if $secret }}
{{- range $var, $key := .env }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret | quote }}
      key: {{ $key | quote }}
      optional: true
{{- end }}
{{- end }}
{{- end }}

{{/*
The settings file: .Values.config plus what the chart manages (SLO files, routing file).
host, port, mode and data_dir are command-line flags of the container.
*/}}
{{- define "sloguard.settingsFile" -}}
{{- $cfg := deepCopy (default dict .Values.config) }}
{{- $files := list }}
{{- range $name, $_ := .Values.slos }}
{{- $files = append $files (printf "/etc/sloguard/slos/%s" $name) }}
{{- end }}
{{- if $files }}
{{- $_ := set $cfg "slo_files" $files }}
{{- end }}
{{- if .Values.routing }}
{{- $_ := set $cfg "routing_file" "/etc/sloguard/routing.yaml" }}
{{- end }}
{{- with (.Values.storage).url }}
{{- $storage := deepCopy (default dict $cfg.storage) }}
{{- $_ := set $storage "url" . }}
{{- $_ := set $cfg "storage" $storage }}
{{- end }}
{{- if $cfg }}
{{- toYaml $cfg }}
{{- else }}
{}
{{- end }}
{{- end }}

{{/* A document given as a mapping (rendered to YAML) or as YAML text (kept as is). */}}
{{- define "sloguard.document" -}}
{{- if kindIs "string" . }}
{{- . }}
{{- else }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
Sidecar: the exporter container for an agent pod. Takes the chart's root context; from a parent
chart that depends on sloguard: include "sloguard.sidecar.container" .Subcharts.sloguard
With sidecar.native it carries restartPolicy: Always and belongs under initContainers (a native
sidecar); otherwise under containers.
*/}}
{{- define "sloguard.sidecar.container" -}}
{{- $port := int .Values.sidecar.port -}}
- name: sloguard
  image: {{ include "sloguard.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  {{- if .Values.sidecar.native }}
  restartPolicy: Always
  {{- end }}
  args:
    - run
    - --mode
    - exporter
    - --host
    - 0.0.0.0
    - --port
    - {{ $port | quote }}
    - --data-dir
    - /var/lib/sloguard
  {{- $secretEnv := include "sloguard.secretEnv" (dict "secret" (default .Values.existingSecret .Values.sidecar.existingSecret) "env" .Values.sidecar.secretEnv) }}
  env:
    - name: SLOGUARD_PORT
      value: {{ $port | quote }}
    {{- if and .Values.sidecar.sharedStore (include "sloguard.sharedStore" .) }}
    # Traces go to the shared store, so alerts and the page of any replica link them.
    - name: SLOGUARD_STORAGE__URL
      value: {{ include "sloguard.storageUrl" . | quote }}
    {{- end }}
    {{- with $secretEnv }}
    {{- trim . | nindent 4 }}
    {{- end }}
    {{- with .Values.sidecar.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: sloguard-http
      containerPort: {{ $port }}
      protocol: TCP
  startupProbe:
    httpGet:
      path: /healthz
      port: sloguard-http
    periodSeconds: 1
    timeoutSeconds: 2
    failureThreshold: 60
  readinessProbe:
    httpGet:
      path: /readyz
      port: sloguard-http
    periodSeconds: 5
    timeoutSeconds: 3
  livenessProbe:
    httpGet:
      path: /healthz
      port: sloguard-http
    periodSeconds: 10
    timeoutSeconds: 3
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml .Values.sidecar.resources | nindent 4 }}
  volumeMounts:
    - name: sloguard-data
      mountPath: /var/lib/sloguard
    - name: sloguard-tmp
      mountPath: /tmp
{{- end }}

{{/* The sidecar's volumes, for the pod's volumes list. */}}
{{- define "sloguard.sidecar.volumes" -}}
- name: sloguard-data
  emptyDir:
    sizeLimit: {{ .Values.sidecar.dataSizeLimit }}
- name: sloguard-tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- end }}

{{/* Labels for pods that carry the sidecar: the PodMonitor selects on them. */}}
{{- define "sloguard.sidecar.podLabels" -}}
{{- toYaml .Values.sidecar.podLabels }}
{{- end }}
