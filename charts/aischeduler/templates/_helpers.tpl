{{/* Chart name, overridable. */}}
{{- define "aischeduler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name prefix of every object of this release (unique per release; cluster-scoped
objects carry it too, so two releases never collide). */}}
{{- define "aischeduler.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "aischeduler.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aischeduler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aischeduler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aischeduler.labels" -}}
helm.sh/chart: {{ include "aischeduler.chart" . }}
{{ include "aischeduler.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: aischeduler
{{- end -}}

{{- define "aischeduler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aischeduler.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "aischeduler.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "aischeduler.runnerImage" -}}
{{- printf "%s:%s" .Values.runner.image.repository (default .Chart.AppVersion .Values.runner.image.tag) -}}
{{- end -}}

{{/* "true" when kopf peering is on: always with more than one replica. */}}
{{- define "aischeduler.peering" -}}
{{- if or .Values.peering.enabled (gt (int .Values.replicaCount) 1) -}}true{{- end -}}
{{- end -}}

{{/* Rules the operator needs on the objects it manages, in every namespace it watches.
Least privilege: no Secrets (credentials reach runner pods through secretKeyRef, which the
kubelet resolves, not the operator). */}}
{{- define "aischeduler.workloadRules" -}}
- apiGroups: ["aischeduler.io"]
  resources: ["assistantschedules"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["aischeduler.io"]
  resources: ["assistantschedules/status"]
  verbs: ["get", "patch", "update"]
# Owner references with blockOwnerDeletion need this where the
# OwnerReferencesPermissionEnforcement admission plugin is on (e.g. OpenShift).
- apiGroups: ["aischeduler.io"]
  resources: ["assistantschedules/finalizers"]
  verbs: ["update"]
- apiGroups: ["batch"]
  resources: ["cronjobs", "jobs"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{/* Cluster-level reads kopf makes in either mode: namespaces (to follow watched ones
coming and going) and CRDs (to notice the AssistantSchedule CRD being (re)installed). */}}
{{- define "aischeduler.clusterRules" -}}
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["get", "list", "watch"]
{{- end -}}
