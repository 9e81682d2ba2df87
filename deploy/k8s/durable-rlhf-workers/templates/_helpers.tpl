{{/* Chart name, truncated to the 63 characters Kubernetes allows in labels. */}}
{{- define "rlhf.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified base name for every object. */}}
{{- define "rlhf.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "rlhf.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "rlhf.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: durable-rlhf
{{- end -}}

{{/* Selector labels of one queue's worker pods; call with (dict "root" $ "role" "train"). */}}
{{- define "rlhf.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rlhf.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}-worker
{{- end -}}

{{- define "rlhf.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rlhf.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Pod terminationGracePeriodSeconds: the worker's shutdown grace (in-flight activities drain) plus one
checkpoint interval (a cancelled training activity writes its checkpoint) plus a margin. Kubernetes sends
SIGKILL after this, so it must never be shorter than what the worker needs.
*/}}
{{- define "rlhf.terminationGracePeriodSeconds" -}}
{{- $s := .Values.shutdown -}}
{{- add (int $s.shutdownGraceSeconds) (int $s.checkpointIntervalSeconds) (int $s.terminationMarginSeconds) -}}
{{- end -}}

{{/* image reference for a queue; call with (dict "root" $ "worker" $worker "role" $role). */}}
{{- define "rlhf.image" -}}
{{- $img := get .root.Values.image .worker.image -}}
{{- if not $img -}}
{{- fail (printf "workers.%s.image must be one of: cpu, cuda (got %q)" .role .worker.image) -}}
{{- end -}}
{{- printf "%s:%s" $img.repository $img.tag -}}
{{- end -}}

{{- define "rlhf.s3SecretName" -}}
{{- .Values.s3.credentials.secretName -}}
{{- end -}}
