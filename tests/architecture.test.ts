// The layering the tree keeps (issue 8): src/ does not import jit/ — the interpreter talks to the
// accelerator interface in src/cpu/accelerator.ts, and the JIT is attached from the top (the package
// entries src/index.ts and src/node.ts, src/cli/) — and the environment is read only at the edge, in src/cli/. Each violation is named by file
// and line.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');
const JIT = join(ROOT, 'jit');

/** Every .ts file under src/, as paths relative to the repository with forward slashes. */
const sources = (readdirSync(SRC, { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts'))
  .map((f) => relative(ROOT, join(SRC, f)).split(sep).join('/'))
  .sort();

/** The module specifiers a line imports or re-exports (static `from '…'`, bare `import '…'`, dynamic `import('…')`). */
function specifiers(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g)) out.push(m[1] ?? m[2]);
  return out;
}

/** `file`'s lines that match `test`, as `file:line: text`. */
function offending(file: string, test: (line: string) => boolean): string[] {
  return readFileSync(join(ROOT, file), 'utf8').split('\n').flatMap((line, i) => (test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : []));
}

describe('architecture', () => {
  it('finds the sources', () => {
    expect(sources).toContain('src/cpu/interpreter.ts');
    expect(sources).toContain('src/machine/vm.ts');
  });

  it('nothing under src/ imports jit/ except the top: src/index.ts, src/node.ts and src/cli/', () => {
    const top = (f: string): boolean => f === 'src/index.ts' || f === 'src/node.ts' || f.startsWith('src/cli/');
    const bad = sources.filter((f) => !top(f)).flatMap((f) => offending(f, (line) =>
      specifiers(line).some((s) => s.startsWith('.') && (resolve(dirname(join(ROOT, f)), s) + sep).startsWith(JIT + sep))));
    expect(bad, 'imports of jit/ below the top (use src/cpu/accelerator.ts; attach the JIT in src/index.ts)').toEqual([]);
  });

  it('process.env is read only in src/cli/', () => {
    const bad = sources.filter((f) => !f.startsWith('src/cli/')).flatMap((f) => offending(f, (line) => /\bprocess\s*\.\s*env\b/.test(line)));
    expect(bad, 'process.env outside src/cli/ (take the value as an option; the CLI reads the environment)').toEqual([]);
  });

  it('the checks see a violation (their own patterns on sample lines)', () => {
    expect(specifiers("import { Jit } from '../../jit/jit.ts';")).toEqual(['../../jit/jit.ts']);
    expect(specifiers("export { lockstep } from '../jit/lockstep.ts';")).toEqual(['../jit/lockstep.ts']);
    expect(specifiers("const m = await import('../../jit/jit.ts');")).toEqual(['../../jit/jit.ts']);
    expect(specifiers("} from './state.ts';")).toEqual(['./state.ts']);
  });
});
