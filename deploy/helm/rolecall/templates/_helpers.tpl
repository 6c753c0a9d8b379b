{{/* The chart's name, cut to Kubernetes' 63 characters. */}}
{{- define "rolecall.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's object name prefix. */}}
{{- define "rolecall.fullname" -}}
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

{{/* Labels every object gets. */}}
{{- define "rolecall.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "rolecall.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the release's pods (add app.kubernetes.io/component for one side). */}}
{{- define "rolecall.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rolecall.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "rolecall.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rolecall.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "rolecall.policyConfigMap" -}}
{{- default (printf "%s-policy" (include "rolecall.fullname" .)) .Values.policy.existingConfigMap }}
{{- end }}

{{/*
The variables src/config.ts reads from NAME_FILE (SECRET_VARIABLES), split by who may hold them:
the Atlas credential goes to workers only.
*/}}
{{- define "rolecall.sharedSecretVariables" -}}
SLACK_BOT_TOKEN SLACK_SIGNING_SECRET SLACK_APP_TOKEN REDIS_URL PAGERDUTY_TOKEN OPSGENIE_API_KEY
{{- end }}
{{- define "rolecall.atlasSecretVariables" -}}
ATLAS_PUBLIC_KEY ATLAS_PRIVATE_KEY ATLAS_CLIENT_ID ATLAS_CLIENT_SECRET
{{- end }}
{{/* Set by the chart itself from structured values. */}}
{{- define "rolecall.chartVariables" -}}
PORT METRICS_PORT POLICY_FILE SHUTDOWN_DRAIN SHUTDOWN_GRACE NODE_OPTIONS
{{- end }}

{{- define "rolecall.secretDir" -}}
/var/run/secrets/rolecall
{{- end }}

{{/*
Refuses, in words, an environment map (`config`, bot.env, worker.env) that names a credential or a
variable the chart sets: credentials come from the Secret, never from values.
Called with (dict "env" MAP "where" "config").
*/}}
{{- define "rolecall.checkEnv" -}}
{{- $secret := splitList " " (printf "%s %s" (include "rolecall.sharedSecretVariables" .) (include "rolecall.atlasSecretVariables" .)) }}
{{- $chart := splitList " " (include "rolecall.chartVariables" .) }}
{{- range $name, $value := .env }}
{{- if or (has $name $secret) (has (trimSuffix "_FILE" $name) $secret) }}
{{- fail (printf "%s.%s: credentials come from the Secret (secrets.keys / secrets.atlas.keys), never from values" $.where $name) }}
{{- end }}
{{- if has $name $chart }}
{{- fail (printf "%s.%s is set by the chart (ports, policy, shutdown values); set those values instead" $.where $name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
One side's pod template. Called with (dict "root" $ "component" "bot"|"worker").
*/}}
{{- define "rolecall.podTemplate" -}}
{{- $root := .root }}
{{- $v := $root.Values }}
{{- $component := .component }}
{{- $side := index $v $component }}
{{- $isWorker := eq $component "worker" }}
{{- include "rolecall.checkEnv" (dict "env" $v.config "where" "config") }}
{{- include "rolecall.checkEnv" (dict "env" $side.env "where" (printf "%s.env" $component)) }}
{{- if not $v.secrets.existingSecret }}
{{- fail "secrets.existingSecret is required: the Secret holding the Slack and Redis credentials" }}
{{- end }}
{{- if not $v.secrets.keys.SLACK_BOT_TOKEN }}
{{- fail "secrets.keys.SLACK_BOT_TOKEN is required: both processes need the bot token" }}
{{- end }}
{{- $secretDir := include "rolecall.secretDir" $root }}
{{- /* name -> [secret, key] of every variable this side gets from a Secret */}}
{{- $files := dict }}
{{- range $name := splitList " " (include "rolecall.sharedSecretVariables" $root) }}
{{- $key := index $v.secrets.keys $name | default "" }}
{{- if $key }}
{{- $_ := set $files $name (list $v.secrets.existingSecret $key) }}
{{- end }}
{{- end }}
{{- if $isWorker }}
{{- $atlasSecret := $v.secrets.atlas.existingSecret | default $v.secrets.existingSecret }}
{{- range $name := splitList " " (include "rolecall.atlasSecretVariables" $root) }}
{{- $key := index $v.secrets.atlas.keys $name | default "" }}
{{- if $key }}
{{- $_ := set $files $name (list $atlasSecret $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- $drain := int $v.shutdown.drainSeconds }}
{{- $grace := int $v.shutdown.graceSeconds }}
metadata:
  labels:
    {{- include "rolecall.selectorLabels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $component }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- if or $side.podAnnotations (and $v.policy.rolloutOnChange (not $v.policy.existingConfigMap)) }}
  annotations:
    {{- if and $v.policy.rolloutOnChange (not $v.policy.existingConfigMap) }}
    checksum/policy: {{ $v.policy.content | sha256sum }}
    {{- end }}
    {{- with $side.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
spec:
  serviceAccountName: {{ include "rolecall.serviceAccountName" $root }}
  automountServiceAccountToken: false
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  # Above SHUTDOWN_DRAIN + SHUTDOWN_GRACE: Rolecall exits on its own before Kubernetes would kill it.
  terminationGracePeriodSeconds: {{ add $drain $grace (int $v.shutdown.marginSeconds) }}
  containers:
    - name: {{ $component }}
      image: "{{ $v.image.repository }}:{{ $v.image.tag | default $root.Chart.AppVersion }}"
      imagePullPolicy: {{ $v.image.pullPolicy }}
      # Node as PID 1 gets SIGTERM itself (Rolecall handles it: drain, finish running work, exit 0).
      command: ["node", "dist/main.js", {{ $component | quote }}]
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      ports:
        - name: http
          containerPort: {{ $v.ports.http }}
          protocol: TCP
        - name: metrics
          containerPort: {{ $v.ports.metrics }}
          protocol: TCP
      env:
        - name: PORT
          value: {{ $v.ports.http | quote }}
        - name: METRICS_PORT
          value: {{ $v.ports.metrics | quote }}
        - name: POLICY_FILE
          value: /etc/rolecall/policy/policy.yml
        - name: SHUTDOWN_DRAIN
          value: {{ printf "%ds" $drain | quote }}
        - name: SHUTDOWN_GRACE
          value: {{ printf "%ds" $grace | quote }}
        {{- with $side.nodeOptions }}
        - name: NODE_OPTIONS
          value: {{ . | quote }}
        {{- end }}
        {{- range $name, $value := $v.config }}
        - name: {{ $name }}
          value: {{ $value | toString | quote }}
        {{- end }}
        {{- range $name, $value := $side.env }}
        - name: {{ $name }}
          value: {{ $value | toString | quote }}
        {{- end }}
        {{- range $name := keys $files | sortAlpha }}
        - name: {{ $name }}_FILE
          value: {{ printf "%s/%s" $secretDir $name }}
        {{- end }}
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml $v.probes.startup | nindent 8 }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml $v.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        {{- toYaml $v.probes.readiness | nindent 8 }}
      resources:
        {{- toYaml $side.resources | nindent 8 }}
      volumeMounts:
        - name: policy
          mountPath: /etc/rolecall/policy
          readOnly: true
        - name: secrets
          mountPath: {{ $secretDir }}
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- with $v.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: policy
      configMap:
        name: {{ include "rolecall.policyConfigMap" $root }}
        items:
          - key: policy.yml
            path: policy.yml
    - name: secrets
      projected:
        defaultMode: 288 # 0440: owner and group (fsGroup) read
        sources:
          {{- $bySecret := dict }}
          {{- range $name := keys $files | sortAlpha }}
          {{- $ref := index $files $name }}
          {{- $items := index $bySecret (first $ref) | default (list) }}
          {{- $_ := set $bySecret (first $ref) (append $items (dict "key" (last $ref) "path" $name)) }}
          {{- end }}
          {{- range $secret := keys $bySecret | sortAlpha }}
          - secret:
              name: {{ $secret }}
              items:
                {{- toYaml (index $bySecret $secret) | nindent 16 }}
          {{- end }}
    # The root filesystem is read-only; /tmp is the only place a process could write.
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- with $v.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $side.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $side.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $side.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $side.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
