// An Envoy HTTP filter plugin that logs the request and response headers.
//
// Built with TinyGo (this SDK does not support the standard Go compiler for
// the .wasm; plain `go test` works though):
//
//	tinygo build -o plugin.wasm -scheduler=none -target=wasi .
package main

import (
	"strings"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// main registers the plugin with the proxy-wasm host. This SDK requires it
// to happen in main: Envoy runs main when it starts the Wasm VM.
func main() {
	proxywasm.SetVMContext(&vmContext{})
}

// vmContext is created once per Wasm VM (one per Envoy worker thread).
type vmContext struct {
	// Embedding the defaults means we only implement what we need.
	types.DefaultVMContext
}

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

// pluginContext is created once per plugin configuration. This plugin needs no
// configuration, so whatever is configured (or nothing) is accepted.
type pluginContext struct {
	types.DefaultPluginContext
}

func (*pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{}
}

// httpContext is created for every HTTP request (stream).
type httpContext struct {
	types.DefaultHttpContext
}

func (*httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	logHeaders("request", proxywasm.GetHttpRequestHeaders)
	return types.ActionContinue
}

func (*httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	logHeaders("response", proxywasm.GetHttpResponseHeaders)
	return types.ActionContinue
}

// logHeaders writes the whole header list, values included, as ONE log line
// at debug:
//
//	request headers: [[:authority localhost:10000] [:path /hello] ...]
//
// One line per request keeps Envoy's log readable when requests interleave.
// `envoywasm up` shows it (wasm:debug); an Envoy at its default level (info)
// drops it, though the plugin still reads and formats every header first.
// Beware: values such as authorization or cookie headers end up in the log.
func logHeaders(kind string, get func() ([][2]string, error)) {
	headers, err := get()
	if err != nil {
		proxywasm.LogErrorf("failed to get %s headers: %v", kind, err)
		return
	}
	proxywasm.LogDebug(kind + " headers: " + formatHeaders(headers))
}

// formatHeaders writes headers as [[name value] ...], as fmt's %v would,
// without fmt's reflection.
func formatHeaders(headers [][2]string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, h := range headers {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('[')
		b.WriteString(h[0])
		b.WriteByte(' ')
		b.WriteString(h[1])
		b.WriteByte(']')
	}
	b.WriteByte(']')
	return b.String()
}
