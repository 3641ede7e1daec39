// The slice of the WebAssembly JS API that envoywasm uses. Node has it at
// run time; TypeScript ships its types only in the DOM lib, which a CLI
// should not pull in.
declare namespace WebAssembly {
  type ImportExportKind = "function" | "table" | "memory" | "global" | "tag";
  interface ModuleExportDescriptor {
    name: string;
    kind: ImportExportKind;
  }
  interface ModuleImportDescriptor {
    module: string;
    name: string;
    kind: ImportExportKind;
  }
  class Module {
    constructor(bytes: Uint8Array);
    static exports(module: Module): ModuleExportDescriptor[];
    static imports(module: Module): ModuleImportDescriptor[];
  }
  function compile(bytes: Uint8Array): Promise<Module>;
}
