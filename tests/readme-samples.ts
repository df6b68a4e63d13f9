// The code samples of README.md that tests run (package.test.ts: every one; browser.test.ts: the page's).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Sample { lang: 'ts' | 'js'; /** The line of README.md its code starts on. */ line: number; code: string }

/** The fenced ts and js blocks of README.md, in order. */
export function readmeSamples(): Sample[] {
  const lines = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8').split('\n');
  const out: Sample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|js|typescript|javascript)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i + 1;
    while (++i < lines.length && lines[i] !== '```');
    out.push({ lang: open[1].startsWith('t') ? 'ts' : 'js', line: start + 1, code: lines.slice(start, i).join('\n') + '\n' });
  }
  return out;
}

/** A sample meant for a web page (its first line says so): bundled for the browser, not run in Node. */
export const forBrowser = (code: string): boolean => code.startsWith('// In a web page');
