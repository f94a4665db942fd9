/**
 * The recognizer interface. A recognizer looks at the call sites of the write (or registration)
 * APIs it knows, resolves their arguments with the shared ValueResolver (wrappers included, see
 * `resolveArguments`) and returns findings. Recognizers are pure: no I/O, no global state.
 *
 * To add one: create `src/analysis/recognizers/<name>.ts` exporting a `WriteRecognizer`, and add it
 * to the list in `src/analysis/recognizers/index.ts`. Document it in docs/analysis.md.
 */
import type { PeImage } from "../../formats/pe/index.js";
import type { EventDescriptorFields } from "../../formats/wevt/types.js";
import type { CallGraph, CallSite } from "../callgraph.js";
import type { Code } from "../disasm.js";
import type { FunctionTable } from "../functions.js";
import type { Value, ValueResolver } from "../values.js";

/** Everything a recognizer may look at. */
export interface AnalysisContext {
  pe: PeImage;
  code: Code;
  functions: FunctionTable;
  graph: CallGraph;
  values: ValueResolver;
  /** Symbol name by rva (PDB globals/publics/procedures, exports), when known. */
  symbolAt(rva: number): string | undefined;
  /** Rva of a named function/global (PDB or export), when known. */
  rvaOf(name: string): number | undefined;
  /** Import label of an IAT slot rva, if it is one. */
  importAt(iatRva: number): string | undefined;
  /** Call sites reaching an API by name: imports and, with symbols, internal functions of that name. */
  callsTo(name: string): CallSite[];
  /** Registrations found so far (the registration recognizer runs first). */
  providers: ProviderRegistry;
}

/** A provider as registered: GUID (from the GUID argument) and where its handle lives. */
export interface RegisteredProvider {
  guid: string;
  /** RVA of the GUID bytes in the image. */
  guidRva?: number;
  guidSymbol?: string;
  /** RVA of the REGHANDLE global (or of the TraceLogging provider handle slot). */
  handleRva?: number;
  handleSymbol?: string;
  /** The handle's place in an object held by a global (values.ts `objectLocation`), when not a global. */
  handleLocation?: string;
  /** The handle's place relative to a function's parameter: its frame, a class (object-classes.ts). */
  handlePlaces?: string[];
  /** Function containing the registration call (for the locality pattern). */
  function: number;
  registerFunction: string;
  /** Provider name when known (TraceLogging provider blob, WEVT_TEMPLATE). */
  name?: string;
}

export interface ProviderRegistry {
  list: RegisteredProvider[];
  byHandle(rva: number): RegisteredProvider | undefined;
  /** The registration whose handle lives at that object location; none when registrations of two GUIDs do. */
  byLocation(location: string): RegisteredProvider | undefined;
  /** Registrations made in a function (locality: register, write, unregister in one function). */
  inFunction(fnRva: number): RegisteredProvider[];
}

/** The 16-byte EVENT_DESCRIPTOR as found at a write site. */
export interface EventDescriptor extends EventDescriptorFields {
  /** Lower-case hex "0x...". */
  keyword: string;
}

export type SiteEvent =
  | {
      kind: "manifest";
      descriptor?: EventDescriptor;
      /** RVA of the descriptor global, when it is one. */
      descriptorRva?: number;
      symbol?: string;
      /** Descriptor built on the stack rather than read from a global. */
      stackBuilt?: boolean;
      /** The descriptor's Level byte is overwritten at run time (the level shown is the copy's source). */
      levelAtRunTime?: boolean;
      /**
       * The descriptor is one entry of a table indexed at run time (recognizers/descriptor-tables.ts):
       * every entry the index may select, none of them guessed as "the" event.
       */
      candidates?: EventDescriptor[];
      /** RVA of that table. */
      tableRva?: number;
      /**
       * The descriptor is returned by a virtual call through this vtable slot (byte offset,
       * recognizers/virtual-getters.ts): `candidates` are what that slot's getters return.
       */
      virtualSlot?: number;
    }
  | { kind: "tracelogging"; eventBlobRva?: number; providerBlobRva?: number; name?: string }
  | {
      kind: "kernel";
      /** PERFINFO group mask as "0x%08x" (mask-index bits included). */
      groupMask?: string;
      hookId?: number;
      /** PERF_* name of the group mask, without the prefix (e.g. "MEMINFO"). */
      groupMaskName?: string;
      /** EVENT_TRACE_GROUP_* name of the hook id's high byte (e.g. "MEMORY"). */
      groupName?: string;
      /** PERFINFO_LOG_TYPE_* name of the hook id (e.g. "MM_STATS"). */
      hookName?: string;
    }
  | {
      /** Classic (MOF-style) write: EVENT_TRACE_HEADER fields (recognizers/classic.ts). */
      kind: "mof";
      classGuid?: string;
      eventType?: number;
      level?: number;
      version?: number;
    }
  | {
      kind: "wpp";
      messageGuid?: string;
      messageNumber?: number;
      /** MessageFlags argument (TRACE_MESSAGE_* bits, e.g. 0x2b), when constant. */
      messageFlags?: number;
    };

/** One resolved write: a call to a write API (or to a wrapper that reaches one). */
export interface WriteFinding {
  /** Instruction index of the call whose arguments gave the values (outermost caller of wrappers). */
  index: number;
  rva: number;
  /** Function containing that call. */
  function: number;
  /** The ETW API finally called (EtwWrite, EventWriteTransfer, ...). */
  writeFunction: string;
  /** Call-site rvas of the wrapper chain, outermost first, ending at the API call itself. */
  via: number[];
  provider?: {
    guid?: string;
    name?: string;
    symbol?: string;
    handleSymbol?: string;
    handleRva?: number;
    /**
     * The handle argument is the constant 0 (`xor ecx, ecx; call EventWrite`: the write fails with
     * ERROR_INVALID_HANDLE) or is read through a null context pointer (the write sits behind the
     * context's null test): no provider can be named.
     */
    nullHandle?: boolean;
    /**
     * The handle is read through a data import (`mov rcx,[__imp_X]; mov rcx,[rcx]`: umpoext.dll's
     * `PtrUmpoProviderHandle` from umpo.dll): another module registers it; its import label.
     */
    importedHandle?: string;
  };
  event: SiteEvent;
}

export interface WriteRecognizer {
  /** Short id used in docs and --recognizer filters. */
  id: string;
  find(ctx: AnalysisContext): WriteFinding[];
}

/** Argument values of one call, resolved through wrapper callers. */
export interface ResolvedCall {
  /** Values per requested argument (same order as asked). */
  values: Value[];
  /** Call-site instruction indices, outermost first, ending with the original site. */
  chain: number[];
}
