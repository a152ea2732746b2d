package chartcheck

import (
	"os"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// requiredValues are the values without which the chart refuses to render.
var requiredValues = []string{
	"--set", "secrets.masterKey=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	"--set", "secrets.databaseURL=postgres://herald:pw@db:5432/herald",
	"--set", "secrets.redisURL=redis://redis:6379/0",
}

// rendered is a rendered release, decoded into the API types.
type rendered struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	secrets     map[string]*corev1.Secret
	jobs        map[string]*batchv1.Job
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs        map[string]*policyv1.PodDisruptionBudget
	monitors    map[string]*monitoringv1.ServiceMonitor
	accounts    map[string]*corev1.ServiceAccount
}

// render templates the chart with args and decodes every manifest
// strictly; a kind the checks do not know fails the test.
func render(t *testing.T, args ...string) rendered {
	t.Helper()
	out, err := runHelm(t, append([]string{"template", "herald", chartDir, "--namespace", "messaging"}, args...)...)
	require.NoError(t, err)
	r := rendered{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		secrets: map[string]*corev1.Secret{}, jobs: map[string]*batchv1.Job{},
		hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		monitors: map[string]*monitoringv1.ServiceMonitor{}, accounts: map[string]*corev1.ServiceAccount{},
	}
	for _, m := range split(t, out) {
		switch m.Kind {
		case "Deployment":
			var v appsv1.Deployment
			decodeStrict(t, m, &v)
			r.deployments[m.Name] = &v
		case "Service":
			var v corev1.Service
			decodeStrict(t, m, &v)
			r.services[m.Name] = &v
		case "Secret":
			var v corev1.Secret
			decodeStrict(t, m, &v)
			r.secrets[m.Name] = &v
		case "Job":
			var v batchv1.Job
			decodeStrict(t, m, &v)
			r.jobs[m.Name] = &v
		case "HorizontalPodAutoscaler":
			var v autoscalingv2.HorizontalPodAutoscaler
			decodeStrict(t, m, &v)
			r.hpas[m.Name] = &v
		case "PodDisruptionBudget":
			var v policyv1.PodDisruptionBudget
			decodeStrict(t, m, &v)
			r.pdbs[m.Name] = &v
		case "ServiceMonitor":
			var v monitoringv1.ServiceMonitor
			decodeStrict(t, m, &v)
			r.monitors[m.Name] = &v
		case "ServiceAccount":
			var v corev1.ServiceAccount
			decodeStrict(t, m, &v)
			r.accounts[m.Name] = &v
		default:
			t.Fatalf("unexpected kind %s (%s): add it to the checks", m.Kind, m.Name)
		}
	}
	return r
}

func TestChartLint(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile(toolsDir + "/go.mod")
	require.NoError(t, err)
	require.Contains(t, string(mod), "helm.sh/helm/v4 v4.3.2", "helm is pinned")
	out, err := runHelm(t, append([]string{"lint", "--strict", chartDir}, requiredValues...)...)
	require.NoError(t, err)
	require.Contains(t, out, "0 chart(s) failed")
}

func TestChartRefusesMissingSecrets(t *testing.T) {
	t.Parallel()
	_, err := runHelm(t, "template", "herald", chartDir)
	require.Error(t, err)
	require.Contains(t, err.Error(), "secrets.masterKey is required (or set secrets.existingSecret)")
}

func TestChartDefaults(t *testing.T) {
	t.Parallel()
	r := render(t, append([]string{"--set", "image.tag=1.2.3", "--set", "trustedProxies={10.0.0.0/8,192.0.2.1}"}, requiredValues...)...)

	require.Len(t, r.deployments, 2)
	serve, worker := r.deployments["herald-serve"], r.deployments["herald-worker"]
	require.NotNil(t, serve)
	require.NotNil(t, worker)
	for _, d := range []*appsv1.Deployment{serve, worker} {
		checkPod(t, d.Name, d.Spec.Template.Spec, "ghcr.io/heraldhq/herald:1.2.3", true)
		checkSecretRefs(t, r, d.Spec.Template.Spec)
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		require.NoError(t, err)
		require.True(t, sel.Matches(labels.Set(d.Spec.Template.Labels)), "%s selects its own pods", d.Name)
		require.Equal(t, int32(0), d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntVal, "%s rolls without losing capacity", d.Name)
	}
	require.Equal(t, []string{"serve"}, serve.Spec.Template.Spec.Containers[0].Args)
	require.Equal(t, []string{"worker"}, worker.Spec.Template.Spec.Containers[0].Args)
	require.Equal(t, "10.0.0.0/8,192.0.2.1", env(serve.Spec.Template.Spec.Containers[0], "HERALD_API_TRUSTED_PROXIES"))
	require.Nil(t, worker.Spec.Replicas, "the HPA owns the worker count")

	// The worker's grace period covers its stop timeout, which covers the
	// default send timeout (one minute).
	stop, err := time.ParseDuration(env(worker.Spec.Template.Spec.Containers[0], "HERALD_WORKER_STOP_TIMEOUT"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, stop, time.Minute)
	require.Greater(t, time.Duration(*worker.Spec.Template.Spec.TerminationGracePeriodSeconds)*time.Second, stop)

	// The API's service reaches serve pods only, on the API port.
	api := r.services["herald"]
	require.NotNil(t, api)
	require.True(t, labels.SelectorFromSet(api.Spec.Selector).Matches(labels.Set(serve.Spec.Template.Labels)))
	require.False(t, labels.SelectorFromSet(api.Spec.Selector).Matches(labels.Set(worker.Spec.Template.Labels)))
	require.Len(t, api.Spec.Ports, 1)
	require.Equal(t, "http", api.Spec.Ports[0].TargetPort.StrVal)

	// Migration: a hook before install and upgrade, after the secret.
	job := r.jobs["herald-migrate"]
	require.NotNil(t, job)
	require.Equal(t, "pre-install,pre-upgrade", job.Annotations["helm.sh/hook"])
	require.Contains(t, job.Annotations["helm.sh/hook-delete-policy"], "before-hook-creation")
	require.Equal(t, []string{"migrate", "up"}, job.Spec.Template.Spec.Containers[0].Args)
	require.Equal(t, corev1.RestartPolicyNever, job.Spec.Template.Spec.RestartPolicy)
	checkPod(t, job.Name, job.Spec.Template.Spec, "ghcr.io/heraldhq/herald:1.2.3", false)
	checkSecretRefs(t, r, job.Spec.Template.Spec)
	secret := r.secrets["herald"]
	require.NotNil(t, secret)
	require.Equal(t, "pre-install,pre-upgrade", secret.Annotations["helm.sh/hook"], "the secret exists before the migration hook runs")
	require.Less(t, secret.Annotations["helm.sh/hook-weight"], job.Annotations["helm.sh/hook-weight"])

	// Workers scale; both roles keep one pod through voluntary disruptions.
	hpa := r.hpas["herald-worker"]
	require.NotNil(t, hpa)
	require.Equal(t, "Deployment", hpa.Spec.ScaleTargetRef.Kind)
	require.Equal(t, worker.Name, hpa.Spec.ScaleTargetRef.Name)
	require.Len(t, r.pdbs, 2)
	for name, pdb := range r.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		require.NoError(t, err)
		d := r.deployments[name]
		require.NotNil(t, d, "PDB %s guards a deployment of the same name", name)
		require.True(t, sel.Matches(labels.Set(d.Spec.Template.Labels)), "PDB %s selects %s", name, d.Name)
	}
	require.Empty(t, r.monitors, "the ServiceMonitor is off by default")
}

func TestChartExistingSecretAndServiceMonitor(t *testing.T) {
	t.Parallel()
	r := render(t, "--set", "secrets.existingSecret=herald-prod", "--set", "serviceMonitor.enabled=true",
		"--set", "serviceMonitor.labels.release=kube-prometheus", "--set", "worker.autoscaling.enabled=false", "--set", "worker.replicas=3")

	require.Empty(t, r.secrets, "an existing secret is used, none created")
	for _, d := range r.deployments {
		for _, ref := range secretRefs(d.Spec.Template.Spec) {
			require.Equal(t, "herald-prod", ref.Name)
		}
	}
	require.Empty(t, r.hpas)
	require.Equal(t, int32(3), *r.deployments["herald-worker"].Spec.Replicas)

	sm := r.monitors["herald"]
	require.NotNil(t, sm)
	require.Equal(t, "kube-prometheus", sm.Labels["release"])
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	require.NoError(t, err)
	scraped := map[string]bool{}
	for _, svc := range r.services {
		if !sel.Matches(labels.Set(svc.Labels)) {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == sm.Spec.Endpoints[0].Port {
				for name, d := range r.deployments {
					if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
						scraped[name] = true
					}
				}
			}
		}
	}
	require.Equal(t, map[string]bool{"herald-serve": true, "herald-worker": true}, scraped, "both roles are scraped on the ops port")
	require.Equal(t, "/metrics", sm.Spec.Endpoints[0].Path)
}

// checkPod checks the invariants of every Herald pod: the image, non-root
// security contexts, resources, and (for long-running roles) probes on
// /health of the ops port the container declares.
func checkPod(t *testing.T, name string, spec corev1.PodSpec, image string, probes bool) {
	t.Helper()
	psc := spec.SecurityContext
	require.NotNil(t, psc, name)
	require.True(t, psc.RunAsNonRoot != nil && *psc.RunAsNonRoot, "%s runs as non-root", name)
	require.True(t, psc.RunAsUser != nil && *psc.RunAsUser != 0, "%s has a non-zero uid", name)
	require.NotNil(t, spec.AutomountServiceAccountToken)
	require.False(t, *spec.AutomountServiceAccountToken, "%s needs no Kubernetes API token", name)
	require.Len(t, spec.Containers, 1, name)
	c := spec.Containers[0]
	require.Equal(t, image, c.Image, name)
	sc := c.SecurityContext
	require.NotNil(t, sc, name)
	require.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "%s: no privilege escalation", name)
	require.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "%s: read-only root", name)
	require.NotNil(t, sc.Capabilities)
	require.Contains(t, sc.Capabilities.Drop, corev1.Capability("ALL"), name)
	require.False(t, c.Resources.Requests.Cpu().IsZero(), "%s requests CPU", name)
	require.False(t, c.Resources.Requests.Memory().IsZero(), "%s requests memory", name)
	require.False(t, c.Resources.Limits.Memory().IsZero(), "%s limits memory", name)
	if !probes {
		return
	}
	ports := map[string]bool{}
	for _, p := range c.Ports {
		ports[p.Name] = true
	}
	for kind, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		require.NotNil(t, p, "%s has a %s probe", name, kind)
		require.NotNil(t, p.HTTPGet, name)
		require.Equal(t, "/health", p.HTTPGet.Path, name)
		require.True(t, ports[p.HTTPGet.Port.StrVal], "%s %s probe port %q is declared", name, kind, p.HTTPGet.Port.StrVal)
	}
	require.NotEmpty(t, env(c, "HERALD_HTTP_HEALTH_ADDR"), name)
}

func secretRefs(spec corev1.PodSpec) []*corev1.SecretKeySelector {
	var refs []*corev1.SecretKeySelector
	for _, c := range spec.Containers {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				refs = append(refs, e.ValueFrom.SecretKeyRef)
			}
		}
	}
	return refs
}

// checkSecretRefs checks that every secret a pod reads is rendered with
// the key, unless the reference is optional.
func checkSecretRefs(t *testing.T, r rendered, spec corev1.PodSpec) {
	t.Helper()
	refs := secretRefs(spec)
	require.NotEmpty(t, refs)
	for _, ref := range refs {
		s := r.secrets[ref.Name]
		require.NotNil(t, s, "secret %s is rendered", ref.Name)
		if ref.Optional != nil && *ref.Optional {
			continue
		}
		_, ok := s.StringData[ref.Key]
		require.True(t, ok, "secret %s has key %s", ref.Name, ref.Key)
		require.NotEmpty(t, strings.TrimSpace(s.StringData[ref.Key]))
	}
}

func env(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
