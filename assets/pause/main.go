// pause holds the network namespace that an envoywasm run's containers share
// (Envoy and the backend join it, as containers of a pod join its pause
// container). It does nothing but wait for SIGTERM or SIGINT.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
