{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "herald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "herald.fullname" -}}
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

{{- define "herald.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "herald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one role: serve, worker or migrate. */}}
{{- define "herald.selectorLabels" -}}
app.kubernetes.io/name: {{ include "herald.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end }}

{{- define "herald.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "herald.secretName" -}}
{{- if .Values.secrets.existingSecret }}{{ .Values.secrets.existingSecret }}{{ else }}{{ include "herald.fullname" . }}{{ end }}
{{- end }}

{{- define "herald.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}{{ default (include "herald.fullname" .) .Values.serviceAccount.name }}{{ else }}{{ default "default" .Values.serviceAccount.name }}{{ end }}
{{- end }}

{{/* Environment shared by every role: secrets by reference, the rest plain. */}}
{{- define "herald.env" -}}
- name: HERALD_MASTER_KEY
  valueFrom:
    secretKeyRef: {name: {{ include "herald.secretName" . }}, key: HERALD_MASTER_KEY}
- name: HERALD_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ include "herald.secretName" . }}, key: HERALD_DATABASE_URL}
- name: HERALD_REDIS_URL
  valueFrom:
    secretKeyRef: {name: {{ include "herald.secretName" . }}, key: HERALD_REDIS_URL}
- name: HERALD_ALERTS_WEBHOOK_SECRET
  valueFrom:
    secretKeyRef: {name: {{ include "herald.secretName" . }}, key: HERALD_ALERTS_WEBHOOK_SECRET, optional: true}
- name: HERALD_TEMPORAL_ADDRESS
  value: {{ required "temporal.address is required" .Values.temporal.address | quote }}
- name: HERALD_TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
- name: HERALD_HTTP_PUBLIC_URL
  value: {{ required "publicURL is required (where providers reach the API)" .Values.publicURL | quote }}
- name: HERALD_HTTP_ADDR
  value: {{ printf ":%v" .Values.ports.http | quote }}
- name: HERALD_HTTP_HEALTH_ADDR
  value: {{ printf ":%v" .Values.ports.ops | quote }}
- name: HERALD_API_TRUSTED_PROXIES
  value: {{ join "," .Values.trustedProxies | quote }}
- name: HERALD_ALERTS_WEBHOOK_URL
  value: {{ .Values.alerts.webhookURL | quote }}
- name: HERALD_LOG_LEVEL
  value: {{ .Values.log.level | quote }}
- name: HERALD_LOG_FORMAT
  value: {{ .Values.log.format | quote }}
- name: HERALD_TRACING_OTLP_ENDPOINT
  value: {{ .Values.tracing.otlpEndpoint | quote }}
- name: HERALD_TRACING_INSECURE
  value: {{ .Values.tracing.insecure | quote }}
- name: HERALD_TRACING_SAMPLE_RATIO
  value: {{ .Values.tracing.sampleRatio | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "herald.probes" -}}
livenessProbe:
  httpGet: {path: /health, port: ops}
  initialDelaySeconds: {{ .Values.probes.liveness.initialDelaySeconds }}
  periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
readinessProbe:
  httpGet: {path: /health, port: ops}
  initialDelaySeconds: {{ .Values.probes.readiness.initialDelaySeconds }}
  periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
{{- end }}
