// Command kube-controller-manager (roperator's build) runs the three controllers a test control
// plane needs, and only those: the garbage collector, the namespace controller and the
// service-account controller, from the same Kubernetes packages as the real
// kube-controller-manager. Linking only these packages makes a cold build about a third of the
// real one. It accepts the real binary's flags that the testkit passes and ignores the rest.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/discovery"
	cacheddiscovery "k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/informers"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/version"
	"k8s.io/controller-manager/pkg/informerfactory"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/controller/garbagecollector"
	namespacecontroller "k8s.io/kubernetes/pkg/controller/namespace"
	serviceaccountcontroller "k8s.io/kubernetes/pkg/controller/serviceaccount"
)

func main() {
	fs := flag.NewFlagSet("kube-controller-manager", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "path to a kubeconfig")
	gcWorkers := fs.Int("concurrent-gc-syncs", 20, "garbage collector workers")
	nsWorkers := fs.Int("concurrent-namespace-syncs", 10, "namespace controller workers")
	discoveryPeriod := fs.Duration("gc-discovery-period", 5*time.Second,
		"how often the garbage collector looks for new resource types (the real one: 30s)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	for _, ignored := range []string{"controllers", "leader-elect", "secure-port", "root-ca-file",
		"use-service-account-credentials", "profiling", "v"} {
		fs.String(ignored, "", "accepted for compatibility, ignored")
	}
	_ = fs.Parse(os.Args[1:])
	if *showVersion {
		fmt.Printf("Kubernetes %s (roperator: garbagecollector, namespace, serviceaccount)\n",
			version.Get().GitVersion)
		return
	}
	if err := run(*kubeconfig, *gcWorkers, *nsWorkers, *discoveryPeriod); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(kubeconfig string, gcWorkers, nsWorkers int, discoveryPeriod time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := klog.Background()
	ctx = klog.NewContext(ctx, logger)

	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("cannot load the kubeconfig: %w", err)
	}
	config.QPS, config.Burst = 400, 800
	client, err := clientset.NewForConfig(config)
	if err != nil {
		return err
	}
	metadataClient, err := metadata.NewForConfig(config)
	if err != nil {
		return err
	}
	discoveryClient, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return err
	}

	sharedInformers := informers.NewSharedInformerFactory(client, 0)
	metadataInformers := metadatainformer.NewSharedInformerFactory(metadataClient, 0)
	restMapper := restmapper.NewDeferredDiscoveryRESTMapper(
		cacheddiscovery.NewMemCacheClient(discoveryClient))
	informersStarted := make(chan struct{})

	gc, err := garbagecollector.NewGarbageCollector(ctx, client, metadataClient, restMapper,
		garbagecollector.DefaultIgnoredResources(),
		informerfactory.NewInformerFactory(sharedInformers, metadataInformers), informersStarted)
	if err != nil {
		return fmt.Errorf("cannot start the garbage collector: %w", err)
	}
	namespaces := namespacecontroller.NewNamespaceController(ctx, client, metadataClient,
		client.Discovery().ServerPreferredNamespacedResources,
		sharedInformers.Core().V1().Namespaces(), 5*time.Minute, v1.FinalizerKubernetes)
	serviceAccounts, err := serviceaccountcontroller.NewServiceAccountsController(logger,
		sharedInformers.Core().V1().ServiceAccounts(), sharedInformers.Core().V1().Namespaces(),
		client, serviceaccountcontroller.DefaultServiceAccountsControllerOptions())
	if err != nil {
		return fmt.Errorf("cannot start the service-account controller: %w", err)
	}

	go gc.Run(ctx, gcWorkers, 30*time.Second)
	go gc.Sync(ctx, discoveryClient, discoveryPeriod)
	go namespaces.Run(ctx, nsWorkers)
	go serviceAccounts.Run(ctx, 1)
	sharedInformers.Start(ctx.Done())
	metadataInformers.Start(ctx.Done())
	close(informersStarted)
	logger.Info("controllers running", "controllers", "garbagecollector,namespace,serviceaccount")
	<-ctx.Done()
	sharedInformers.Shutdown()
	metadataInformers.Shutdown()
	return nil
}
