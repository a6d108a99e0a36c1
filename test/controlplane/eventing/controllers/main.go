// Command controllers runs, in one process, the Knative Eventing reconcilers the default
// install of build-watcher needs: Broker and Trigger (upstream cmd/mtchannel_broker), Channel and
// Subscription, ApiServerSource and PingSource (upstream cmd/controller), and InMemoryChannel
// (upstream cmd/in_memory/channel_controller). One process instead of three: one link instead of
// three 60 MB binaries, one client, and no clash between their probe and metrics ports. The
// reconcilers are upstream's, unmodified; only the selection differs. Run it with --disable-ha.
package main

import (
	kubefilteredfactory "knative.dev/pkg/client/injection/kube/informers/factory/filtered"
	"knative.dev/pkg/injection/sharedmain"
	"knative.dev/pkg/signals"

	"knative.dev/eventing/pkg/auth"
	"knative.dev/eventing/pkg/eventingtls"
	"knative.dev/eventing/pkg/reconciler/apiserversource"
	"knative.dev/eventing/pkg/reconciler/broker"
	mttrigger "knative.dev/eventing/pkg/reconciler/broker/trigger"
	"knative.dev/eventing/pkg/reconciler/channel"
	inmemorychannel "knative.dev/eventing/pkg/reconciler/inmemorychannel/controller"
	"knative.dev/eventing/pkg/reconciler/pingsource"
	"knative.dev/eventing/pkg/reconciler/subscription"
)

func main() {
	ctx := signals.NewContext()
	// The label-filtered informers these reconcilers ask for; the same selectors as upstream's mains.
	ctx = kubefilteredfactory.WithSelectors(ctx,
		auth.OIDCLabelSelector,
		eventingtls.TrustBundleLabelSelector,
	)
	// Each reconciler would otherwise serve probes on :8080, which the IMC dispatcher hard-codes.
	ctx = sharedmain.WithHealthProbesDisabled(ctx)
	sharedmain.MainWithContext(ctx, "build-watcher-eventing-controllers",
		broker.NewController,
		mttrigger.NewController,
		channel.NewController,
		subscription.NewController,
		inmemorychannel.NewController,
		apiserversource.NewController,
		pingsource.NewController,
	)
}
