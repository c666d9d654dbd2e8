{{/*
Names are fixed, not derived from the release name: the objects are cluster-wide or named by
the controller's code and the documentation (phigate-controller, phigate-approver,
phigate-gateway-tokenreview, phigate-approval-decisions). One release per cluster.
*/}}

{{- define "phigate.labels" -}}
app.kubernetes.io/name: phigate
app.kubernetes.io/part-of: phigate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector of the controller's pods. */}}
{{- define "phigate.controller.selectorLabels" -}}
app.kubernetes.io/name: phigate
app.kubernetes.io/component: controller
{{- end -}}

{{/* Selector of the gateways' pods, as the controller renders them (src/controller/accesspolicy/render.ts). */}}
{{- define "phigate.gateway.selectorLabels" -}}
app.kubernetes.io/name: phigate
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "phigate.image" -}}
{{- $tag := .image.tag | default .appVersion -}}
{{- if .image.digest -}}
{{ .image.repository }}@{{ .image.digest }}
{{- else -}}
{{ .image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{- define "phigate.controller.image" -}}
{{ include "phigate.image" (dict "image" .Values.image "appVersion" .Chart.AppVersion) }}
{{- end -}}

{{/* The gateways' image: gateway.image where set, else the controller's. */}}
{{- define "phigate.gateway.image" -}}
{{- $g := .Values.gateway.image -}}
{{- $image := dict -}}
{{- if $g.repository -}}
{{- $image = dict "repository" $g.repository "tag" $g.tag "digest" $g.digest -}}
{{- else if or $g.tag $g.digest -}}
{{- $image = dict "repository" .Values.image.repository "tag" $g.tag "digest" $g.digest -}}
{{- else -}}
{{- $image = .Values.image -}}
{{- end -}}
{{ include "phigate.image" (dict "image" $image "appVersion" .Chart.AppVersion) }}
{{- end -}}

{{- define "phigate.metricsServiceName" -}}phigate-controller-metrics{{- end -}}

{{/* The job label Prometheus gives the controller's and the gateways' series (a ServiceMonitor's job is its Service's name). */}}
{{- define "phigate.controllerJob" -}}{{ include "phigate.metricsServiceName" . }}{{- end -}}
{{- define "phigate.gatewayJob" -}}phigate-gateway{{- end -}}

{{- define "phigate.monitoringApi" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" -}}true{{- end -}}
{{- end -}}

{{/* What the controller passes on to every gateway it creates (PHIGATE_GATEWAY_DEFAULTS). */}}
{{- define "phigate.gatewayDefaults" -}}
{{- $d := dict
  "imagePullPolicy" .Values.gateway.image.pullPolicy
  "resources" .Values.gateway.resources
  "podSecurityContext" .Values.gateway.podSecurityContext
  "securityContext" .Values.gateway.securityContext -}}
{{- if .Values.oidc.enabled -}}
{{- $_ := set $d "oidc" (dict
  "issuerUrl" .Values.oidc.issuerUrl
  "audience" .Values.oidc.audience
  "jwksUrl" .Values.oidc.jwksUrl
  "usernameClaim" .Values.oidc.usernameClaim
  "groupsClaim" .Values.oidc.groupsClaim
  "usernamePrefix" .Values.oidc.usernamePrefix
  "groupsPrefix" .Values.oidc.groupsPrefix
  "caBundle" (.Values.oidc.caBundle | default "")) -}}
{{- end -}}
{{- toJson $d -}}
{{- end -}}

{{/* Egress every phigate pod needs: the API server and DNS (networkPolicy values as the context). */}}
{{- define "phigate.networkPolicy.egressCommon" -}}
# The Kubernetes API server (TokenReview, AccessPolicies, ApprovalRequests, Leases).
- to:
    {{- range .apiServer.cidrs }}
    - ipBlock: { cidr: {{ . | quote }} }
    {{- end }}
  ports:
    {{- toYaml .apiServer.ports | nindent 4 }}
{{- if .dns.enabled }}
- to:
    - namespaceSelector:
        {{- toYaml .dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .dns.podSelector | nindent 8 }}
  ports:
    - { port: 53, protocol: UDP }
    - { port: 53, protocol: TCP }
{{- end }}
{{- end }}

{{/* One NetworkPolicy peer from {podSelector, namespaceSelector}; a null namespaceSelector means the policy's own namespace, {} all namespaces. */}}
{{- define "phigate.networkPolicy.peer" -}}
{{- if .podSelector }}
- podSelector:
    {{- toYaml .podSelector | nindent 4 }}
{{- else }}
- podSelector: {}
{{- end }}
  {{- if kindIs "map" .namespaceSelector }}
  namespaceSelector:
    {{- toYaml .namespaceSelector | nindent 4 }}
  {{- end }}
{{- end }}
