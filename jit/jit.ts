// The JIT engine's front: owns binaryen (loaded lazily, off the interpreter's start-up path), compiles a
// hot block through translate.ts and instantiates it against the VM's WebAssembly.Memory.
//
// First tier: one module per block, instantiated synchronously. The design notes measure ~0.1 ms per such
// module and JS→WASM calls per block; regions (many blocks per module, a WASM-side dispatcher, block
// chaining without returning to JS) are the next tier and will replace this per-block batching.
import type binaryenT from 'binaryen';
import type { Block } from '../src/cpu/code-cache.ts';
import type { Cpu } from '../src/cpu/cpu.ts';
import { addMaterialiseCF, refusal, translateBlock } from './translate.ts';

export type CompiledBlock = (budget: number) => number;

export interface JitStats {
  /** Blocks compiled to WASM, blocks looked at and refused (not in the subset / mode). */
  compiled: number;
  refused: number;
  /** Total size of the emitted WASM binaries, bytes. */
  wasmBytes: number;
  /** Time spent translating, emitting and instantiating, ms. */
  translateMs: number;
  /** Calls of compiled blocks, and the instructions they retired. */
  calls: number;
  instructions: number;
}

export class Jit {
  readonly stats: JitStats = { compiled: 0, refused: 0, wasmBytes: 0, translateMs: 0, calls: 0, instructions: 0 };
  /** Refused blocks by the first instruction outside the subset (what to add next). */
  readonly refusedBy = new Map<string, number>();
  private readonly bn: typeof binaryenT;
  private readonly memory: WebAssembly.Memory;

  private constructor(bn: typeof binaryenT, memory: WebAssembly.Memory) {
    this.bn = bn;
    this.memory = memory;
  }

  /** Load binaryen (ESM with top-level await: ~350 ms, so only when the JIT is asked for). */
  static async create(memory: WebAssembly.Memory): Promise<Jit> {
    const bn = (await import('binaryen')).default;
    return new Jit(bn, memory);
  }

  /** A compiled function for `block`, or null when it is not in the first tier's subset or mode. */
  tryCompile(block: Block, cpu: Cpu): CompiledBlock | null {
    const why = refusal(block, cpu);
    if (why !== null) {
      this.stats.refused++;
      this.refusedBy.set(why, (this.refusedBy.get(why) ?? 0) + 1);
      return null;
    }
    const t0 = performance.now();
    const binary = this.withModule(block, cpu, (m) => m.emitBinary());
    const mod = new WebAssembly.Module(binary as Uint8Array<ArrayBuffer>);
    const inst = new WebAssembly.Instance(mod, { env: { memory: this.memory } });
    const fn = inst.exports.block as CompiledBlock;
    this.stats.compiled++;
    this.stats.wasmBytes += binary.length;
    this.stats.translateMs += performance.now() - t0;
    return fn;
  }

  /** Validate one block's module with binaryen (tests, debugging): true when it is well-formed. */
  validate(block: Block, cpu: Cpu): boolean {
    return this.withModule(block, cpu, (m) => m.validate() !== 0);
  }

  /** Build the block's module (importing the VM's memory), hand it to `use`, and always dispose of it. */
  private withModule<T>(block: Block, cpu: Cpu, use: (m: binaryenT.Module) => T): T {
    const bn = this.bn, m = new bn.Module();
    try {
      m.setFeatures(bn.Features.MVP);
      m.setMemory(1, 65536, null);
      m.addMemoryImport('0', 'env', 'memory');
      addMaterialiseCF(bn, m);
      translateBlock(bn, m, block, cpu.ramSize, 'block');
      return use(m);
    } finally {
      m.dispose();
    }
  }
}
