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
	"testing"

	"github.com/stretchr/testify/require"

	"{{sdkModule}}/proxywasm/proxytest"
	"{{sdkModule}}/proxywasm/types"
)

// newHost starts the plugin with the given configuration (nil: none).
func newHost(t *testing.T, vm types.VMContext, configuration []byte) (proxytest.HostEmulator, func()) {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(vm)
	if configuration != nil {
		opt = opt.WithPluginConfiguration(configuration)
	}
	host, reset := proxytest.NewHostEmulator(opt)
	require.Equal(t, types.OnPluginStartStatusOK, host.StartPlugin())
	return host, reset
}

// serve runs one request/response through the plugin and returns the
// response headers as the client would see them.
func serve(t *testing.T, host proxytest.HostEmulator, requestHeaders [][2]string) [][2]string {
	t.Helper()
	id := host.InitializeHttpContext()
	require.Equal(t, types.ActionContinue, host.CallOnRequestHeaders(id, requestHeaders, true))
	response := [][2]string{{":status", "200"}, {"content-type", "text/plain"}}
	require.Equal(t, types.ActionContinue, host.CallOnResponseHeaders(id, response, false))
	host.CompleteHttpContext(id)
	return host.GetCurrentResponseHeaders(id)
}

func TestAddsConfiguredHeader(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host, reset := newHost(t, vm, []byte(`{"header": "X-Hello", "value": "world"}`))
		defer reset()

		got := serve(t, host, [][2]string{{":path", "/hello"}, {"x-request-id", "req-42"}})

		require.Contains(t, got, [2]string{"x-hello", "world"})
		require.Contains(t, got, [2]string{"content-type", "text/plain"}, "existing headers are kept")
		require.Contains(t, host.GetDebugLogs(), "added response header x-hello: world")
		// At info, only the start: a request logs nothing an Envoy at its default level shows.
		require.Equal(t, []string{"plugin started: adding response header x-hello: world"}, host.GetInfoLogs())
	})
}

func TestDefaultsWithoutConfiguration(t *testing.T) {
	for name, configuration := range map[string][]byte{
		"absent": nil,
		"empty":  []byte(" \n"),
		"object": []byte(`{}`),
	} {
		t.Run(name, func(t *testing.T) {
			vmTest(t, func(t *testing.T, vm types.VMContext) {
				host, reset := newHost(t, vm, configuration)
				defer reset()

				got := serve(t, host, [][2]string{{":path", "/hello"}})

				require.Contains(t, got, [2]string{"x-envoywasm", defaultValue})
				require.Contains(t, host.GetDebugLogs(), "added response header x-envoywasm: "+defaultValue)
			})
		})
	}
}

func TestDefaultsForMissingKey(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host, reset := newHost(t, vm, []byte(`{"value": "only the value"}`))
		defer reset()

		got := serve(t, host, [][2]string{{":path", "/"}})

		require.Contains(t, got, [2]string{"x-envoywasm", "only the value"})
	})
}

func TestInvalidConfigurationFailsPluginStart(t *testing.T) {
	for name, configuration := range map[string]string{
		"not JSON":            `{"header": `,
		"not an object":       `"x-hello"`,
		"header not a string": `{"header": 42}`,
	} {
		t.Run(name, func(t *testing.T) {
			vmTest(t, func(t *testing.T, vm types.VMContext) {
				opt := proxytest.NewEmulatorOption().
					WithVMContext(vm).
					WithPluginConfiguration([]byte(configuration))
				host, reset := proxytest.NewHostEmulator(opt)
				defer reset()

				require.Equal(t, types.OnPluginStartStatusFailed, host.StartPlugin())
				logs := host.GetCriticalLogs()
				require.Len(t, logs, 1)
				require.Contains(t, logs[0], "invalid plugin configuration")
			})
		})
	}
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
