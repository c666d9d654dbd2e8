{{/*
Kubernetes >= 1.30: the admission policy that decides who may approve needs
admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy. Checked when helm has asked a
cluster for its APIs (install, upgrade, template --validate: the API list then names kinds,
such as v1/Namespace); `helm template` alone knows only its built-in group/versions and a
default Kubernetes version, so it is not checked there. This stands in for Chart.yaml's
kubeVersion, which helm binaries built without helm's version ldflags compare against 1.20.
*/}}
{{- define "phigate.checks" -}}
{{- $api := .Capabilities.APIVersions -}}
{{- if $api.Has "v1/Namespace" -}}
{{- if not (semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version) -}}
{{- fail (printf "phigate needs Kubernetes >= 1.30; this cluster runs %s" .Capabilities.KubeVersion.Version) -}}
{{- end -}}
{{- if not ($api.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy") -}}
{{- fail "phigate needs admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy (Kubernetes >= 1.30), which enforces who may approve an ApprovalRequest; this cluster does not serve it" -}}
{{- end -}}
{{- end -}}
{{- end -}}
