// Unit tests run with the SDK's host emulator (proxytest), no Envoy needed:
//
//	go test ./...
//
// Each test runs twice: against the Go code directly ("go") and against the
// compiled .wasm ("wasm"), which is what Envoy actually loads. `envoywasm test`
// builds the plugin and runs both; a plain `go test` skips the wasm run.

package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"{{sdkModule}}/proxywasm/proxytest"
	"{{sdkModule}}/proxywasm/types"
)

func TestLogsRequestHeadersInOneLine(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(vm))
		defer reset()
		require.Equal(t, types.OnPluginStartStatusOK, host.StartPlugin())

		id := host.InitializeHttpContext()
		headers := [][2]string{
			{":authority", "localhost:10000"},
			{":method", "GET"},
			{":path", "/hello"},
			{"x-request-id", "3f2b-request-id"},
		}
		require.Equal(t, types.ActionContinue, host.CallOnRequestHeaders(id, headers, true))

		line := logLine(t, host.GetDebugLogs(), "request headers: ")
		for _, h := range headers {
			require.Contains(t, line, "["+h[0]+" "+h[1]+"]")
		}
		require.Empty(t, host.GetInfoLogs(), "at info, a request logs nothing")
	})
}

func TestLogsResponseHeadersInOneLine(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(vm))
		defer reset()
		require.Equal(t, types.OnPluginStartStatusOK, host.StartPlugin())

		id := host.InitializeHttpContext()
		headers := [][2]string{
			{":status", "200"},
			{"content-type", "text/plain"},
			{"content-length", "13"},
		}
		require.Equal(t, types.ActionContinue, host.CallOnResponseHeaders(id, headers, false))
		host.CompleteHttpContext(id)

		line := logLine(t, host.GetDebugLogs(), "response headers: ")
		for _, h := range headers {
			require.Contains(t, line, "["+h[0]+" "+h[1]+"]")
		}
		// The plugin only observes: the response headers are unchanged.
		require.Equal(t, headers, host.GetCurrentResponseHeaders(id))
	})
}

func TestFormatsHeadersLikeALiteral(t *testing.T) {
	require.Equal(t, "[]", formatHeaders(nil))
	require.Equal(t, "[[:status 200] [content-type text/plain; charset=utf-8] [set-cookie a=1] [set-cookie b=2]]",
		formatHeaders([][2]string{{":status", "200"}, {"content-type", "text/plain; charset=utf-8"}, {"set-cookie", "a=1"}, {"set-cookie", "b=2"}}))
}

func TestAcceptsAnyConfiguration(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		opt := proxytest.NewEmulatorOption().
			WithVMContext(vm).
			WithPluginConfiguration([]byte(`{"unused": true}`))
		host, reset := proxytest.NewHostEmulator(opt)
		defer reset()
		require.Equal(t, types.OnPluginStartStatusOK, host.StartPlugin())
	})
}

// logLine returns the first log line that starts with prefix.
func logLine(t *testing.T, logs []string, prefix string) string {
	t.Helper()
	for _, l := range logs {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	require.Failf(t, "log line not found", "no line starts with %q in %q", prefix, logs)
	return ""
}

// vmTest runs f twice: as subtest "go" with the plugin's VMContext called
// directly, and as subtest "wasm" with the compiled plugin loaded in a Wasm
// runtime. The .wasm path is $ENVOYWASM_WASM, which `envoywasm test` sets.
func vmTest(t *testing.T, f func(*testing.T, types.VMContext)) {
	t.Helper()

	t.Run("go", func(t *testing.T) {
		f(t, &vmContext{})
	})

	t.Run("wasm", func(t *testing.T) {
		path := os.Getenv("ENVOYWASM_WASM")
		if path == "" {
			t.Skip("ENVOYWASM_WASM is not set: `envoywasm test` builds the plugin and tests the compiled module too")
		}
		wasm, err := os.ReadFile(path)
		require.NoError(t, err)

		vm, err := proxytest.NewWasmVMContext(wasm)
		require.NoError(t, err)
		defer vm.Close()
		f(t, vm)
	})
}
