// argocd-lua runs Argo CD resource customizations the way `argocd admin settings
// resource-overrides health|list-actions|run-action --argocd-cm-path` does in Argo CD
// v3.2.12: the same settings manager reads the argocd-cm ConfigMap, the same gitops-engine
// health entry point and the same util/lua VM run the scripts, and errors exit with the
// CLI's code (20). Only the output differs: JSON, so tests can read it.
//
//	argocd-lua --argocd-cm argocd-cm.yaml health OBJECT.yaml
//	argocd-lua --argocd-cm argocd-cm.yaml list-actions OBJECT.yaml
//	argocd-lua --argocd-cm argocd-cm.yaml run-action OBJECT.yaml ACTION
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"

	"github.com/argoproj/gitops-engine/pkg/health"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/argoproj/argo-cd/v3/common"
	"github.com/argoproj/argo-cd/v3/pkg/apis/application/v1alpha1"
	"github.com/argoproj/argo-cd/v3/util/errors"
	"github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/argo-cd/v3/util/settings"
)

func main() {
	cmPath := flag.String("argocd-cm", "", "path of the argocd-cm ConfigMap YAML")
	flag.Parse()
	args := flag.Args()
	if *cmPath == "" || len(args) < 2 || (args[0] == "run-action" && len(args) < 3) {
		fmt.Fprintln(os.Stderr, "usage: argocd-lua --argocd-cm CM.yaml health|list-actions|run-action OBJECT.yaml [ACTION]")
		os.Exit(2)
	}
	res := readObject(args[1])
	overrides := resourceOverrides(*cmPath)
	switch args[0] {
	case "health":
		printJSON(healthOf(res, overrides))
	case "list-actions":
		printJSON(listActions(res, overrides))
	case "run-action":
		printJSON(runAction(res, overrides, args[2]))
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", args[0])
		os.Exit(2)
	}
}

func readObject(path string) *unstructured.Unstructured {
	data, err := os.ReadFile(path)
	errors.CheckError(err)
	res := unstructured.Unstructured{}
	errors.CheckError(yaml.Unmarshal(data, &res))
	return &res
}

// resourceOverrides parses the ConfigMap exactly as the CLI's createSettingsManager does:
// a settings manager over a fake clientset holding the ConfigMap and a dummy argocd-secret.
func resourceOverrides(cmPath string) map[string]v1alpha1.ResourceOverride {
	data, err := os.ReadFile(cmPath)
	errors.CheckError(err)
	var cm *corev1.ConfigMap
	errors.CheckError(yaml.Unmarshal(data, &cm))
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: common.ArgoCDSecretName},
		Data:       map[string][]byte{"admin.password": []byte("test"), "server.secretkey": []byte("test")},
	}
	for _, obj := range []metav1.Object{cm, secret} {
		obj.SetNamespace("default")
		labels := obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels["app.kubernetes.io/part-of"] = "argocd"
		obj.SetLabels(labels)
	}
	ctx := context.Background()
	manager := settings.NewSettingsManager(ctx, fake.NewClientset(secret, cm), "default")
	errors.CheckError(manager.ResyncInformers())
	overrides, err := manager.GetResourceOverrides()
	errors.CheckError(err)
	return overrides
}

type healthResult struct {
	Configured bool   `json:"configured"`
	Status     string `json:"status,omitempty"`
	Message    string `json:"message,omitempty"`
}

func healthOf(res *unstructured.Unstructured, overrides map[string]v1alpha1.ResourceOverride) healthResult {
	status, err := health.GetResourceHealth(res, lua.ResourceHealthOverrides(overrides))
	errors.CheckError(err)
	if status == nil {
		return healthResult{Configured: false}
	}
	return healthResult{Configured: true, Status: string(status.Status), Message: status.Message}
}

func listActions(res *unstructured.Unstructured, overrides map[string]v1alpha1.ResourceOverride) []v1alpha1.ResourceAction {
	vm := lua.VM{ResourceOverrides: overrides}
	scripts, err := vm.GetResourceActionDiscovery(res)
	errors.CheckError(err)
	actions, err := vm.ExecuteResourceActionDiscovery(res, scripts)
	errors.CheckError(err)
	sort.Slice(actions, func(i, j int) bool { return actions[i].Name < actions[j].Name })
	return actions
}

type impacted struct {
	Operation string         `json:"operation"`
	Object    map[string]any `json:"object"`
}

func runAction(res *unstructured.Unstructured, overrides map[string]v1alpha1.ResourceOverride, name string) []impacted {
	vm := lua.VM{ResourceOverrides: overrides}
	action, err := vm.GetResourceAction(res, name)
	errors.CheckError(err)
	results, err := vm.ExecuteResourceAction(res, action.ActionLua, nil)
	errors.CheckError(err)
	out := make([]impacted, 0, len(results))
	for _, r := range results {
		out = append(out, impacted{Operation: string(r.K8SOperation), Object: r.UnstructuredObj.Object})
	}
	return out
}

func printJSON(v any) {
	data, err := json.Marshal(v)
	errors.CheckError(err)
	fmt.Println(string(data))
}
