/**
 * The .drv ATerm text: Nix's `Derivation::unparse` and a strict parser for it. The parser accepts exactly
 * what Nix writes (canonical order, no duplicates, only the escapes Nix emits, valid store paths), so
 * printDerivation(parseDerivation(t)) === t for every text it accepts.
 */
import { Derivation, DerivationOutput, compareUtf8, outputProblem, sortedByUtf8, textOrderIsUtf8 } from './derivation';
import { DrvParseError, NixError } from './errors';
import { DEFAULT_STORE_DIR, STORE_PATH_NAME_MAX, isStorePathNameChar, storePathProblem } from './store-path';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const CLOSE_LIST = 0x5d;

const patterns = new Map<string, RegExp>();

/** A sticky pattern for a quoted store path under `storeDir`: no alternation, so matching is linear. */
function storePathPattern(storeDir: string): RegExp {
  let re = patterns.get(storeDir);
  if (re === undefined) {
    const dir = storeDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    re = new RegExp(`"${dir}/[0-9a-df-np-sv-z]{32}-[0-9a-zA-Z+\\-._?=]{1,${STORE_PATH_NAME_MAX}}"`, 'y');
    patterns.set(storeDir, re);
  }
  return re;
}

/** Derivation fields keyed by strings use null-prototype objects, so "__proto__" is just a key. */
function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** Next occurrence of one character at or after a position, remembered so each character is searched once. */
class NextOf {
  private at = -2;
  constructor(
    private readonly text: string,
    private readonly char: string,
  ) {}

  /** Index of the next occurrence at or after `from`, or Infinity. */
  from(from: number): number {
    if (this.at === -1) return Infinity;
    if (this.at < from) this.at = this.text.indexOf(this.char, from);
    return this.at === -1 ? Infinity : this.at;
  }
}

/**
 * An index-based scanner. Strings are found with native indexOf; backslashes and raw newline/CR/tab are
 * located once each (NextOf), so the whole parse stays linear and mostly in native code.
 */
class Parser {
  pos = 0;
  private readonly backslash: NextOf;
  private readonly newline: NextOf;
  private readonly cr: NextOf;
  private readonly tab: NextOf;
  private readonly storePathAt: RegExp;
  /** no code unit >= U+D800 anywhere: native string comparison is byte order */
  private readonly nativeOrder: boolean;

  constructor(
    readonly text: string,
    readonly storeDir: string,
  ) {
    this.backslash = new NextOf(text, '\\');
    this.newline = new NextOf(text, '\n');
    this.cr = new NextOf(text, '\r');
    this.tab = new NextOf(text, '\t');
    this.storePathAt = storePathPattern(storeDir);
    this.nativeOrder = textOrderIsUtf8(text);
  }

  fail(message: string, at = this.pos): never {
    const offset = Buffer.byteLength(this.text.slice(0, at), 'utf8');
    throw new DrvParseError(message, offset);
  }

  expect(literal: string): void {
    const ok = literal.length === 1 ? this.text.charCodeAt(this.pos) === literal.charCodeAt(0) : this.text.startsWith(literal, this.pos);
    if (!ok) {
      this.fail(`expected '${literal}'${this.pos >= this.text.length ? ' but the text ended' : ''}`);
    }
    this.pos += literal.length;
  }

  /** After an element: true at the list's end (consumes ']'), false before the next element (consumes ','). */
  endOfList(what: string): boolean {
    const c = this.text.charCodeAt(this.pos);
    if (c === CLOSE_LIST) {
      this.pos++;
      return true;
    }
    if (c === COMMA) {
      this.pos++;
      return false;
    }
    return this.fail(`expected ',' or ']' in the list of ${what}`);
  }

  /** At a list's start (after '['): true if it is empty (consumes ']'). */
  emptyList(): boolean {
    if (this.text.charCodeAt(this.pos) === CLOSE_LIST) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** Index of the quote closing the string that opens at this.pos. */
  private closingQuote(what: string): number {
    if (this.text.charCodeAt(this.pos) !== QUOTE) this.fail(`expected '"' to start ${what}`);
    const end = this.text.indexOf('"', this.pos + 1);
    if (end < 0) this.fail(`unterminated string (${what})`);
    return end;
  }

  /** A string Nix prints without escaping (names, paths, hashes, system): no backslash can occur. */
  unquoted(what: string): string {
    const start = this.pos + 1;
    const end = this.closingQuote(what);
    const bs = this.backslash.from(start);
    if (bs < end) this.fail(`unexpected escape in ${what}: Nix writes it unescaped`, bs);
    this.pos = end + 1;
    return this.text.slice(start, end);
  }

  /** A string Nix prints with printString: only \" \\ \n \r \t escapes, never a raw newline, CR or tab. */
  escaped(what: string): string {
    const { text } = this;
    const start = this.pos + 1;
    let end = this.closingQuote(what);
    let bs = this.backslash.from(start);
    let result: string;
    if (bs > end) {
      result = text.slice(start, end);
    } else {
      // escapes: decode them; an escaped quote is not the end of the string
      result = '';
      let segment = start;
      while (bs < end) {
        const e = text.charCodeAt(bs + 1);
        const decoded = e === QUOTE ? '"' : e === BACKSLASH ? '\\' : e === 0x6e ? '\n' : e === 0x72 ? '\r' : e === 0x74 ? '\t' : undefined;
        if (decoded === undefined) this.fail(`invalid escape in ${what}: Nix writes only \\" \\\\ \\n \\r \\t`, bs);
        result += text.slice(segment, bs) + decoded;
        segment = bs + 2;
        if (end === bs + 1) {
          end = text.indexOf('"', segment);
          if (end < 0) this.fail(`unterminated string (${what})`);
        }
        bs = this.backslash.from(segment);
      }
      result += text.slice(segment, end);
    }
    const raw = Math.min(this.newline.from(start), this.cr.from(start), this.tab.from(start));
    if (raw < end) {
      const c = text.charCodeAt(raw);
      this.fail(`raw ${c === 0x0a ? 'newline' : c === 0x0d ? 'carriage return' : 'tab'} in ${what}: Nix writes it escaped`, raw);
    }
    this.pos = end + 1;
    return result;
  }

  storePath(what: string): string {
    const at = this.pos;
    // one native match checks the whole quoted path; the slow check runs only to explain a failure
    this.storePathAt.lastIndex = at;
    if (this.storePathAt.test(this.text)) {
      this.pos = this.storePathAt.lastIndex;
      return this.text.slice(at + 1, this.pos - 1);
    }
    const path = this.unquoted(what);
    const problem = storePathProblem(path, this.storeDir) ?? 'is not a valid store path';
    return this.fail(`${what} '${path}' ${problem}`, at + 1);
  }

  outputName(what: string): string {
    const at = this.pos;
    const name = this.unquoted(what);
    if (name === '') this.fail(`empty ${what}`, at);
    for (let i = 0; i < name.length; i++) {
      if (!isStorePathNameChar(name.charCodeAt(i))) this.fail(`${what} '${name}' has a character not allowed in a store path name`, at + 1 + i);
    }
    return name;
  }

  /** Keys must be strictly increasing by UTF-8 bytes: Nix writes sorted maps and sets. */
  ordered(prev: string | undefined, key: string, at: number, what: string): void {
    if (prev !== undefined && (this.nativeOrder ? !(prev < key) : compareUtf8(prev, key) >= 0)) {
      this.fail(prev === key ? `duplicate ${what} '${key}'` : `${what} '${key}' is out of order (Nix sorts them)`, at);
    }
  }

  parse(): Derivation {
    this.expect('Derive([');
    const outputs = this.outputs();
    this.expect(',[');
    const inputDrvs = this.inputDrvs();
    this.expect(',[');
    const inputSrcs: string[] = [];
    if (!this.emptyList()) {
      do {
        const at = this.pos;
        const path = this.storePath('input source');
        this.ordered(inputSrcs[inputSrcs.length - 1], path, at, 'input source');
        inputSrcs.push(path);
      } while (!this.endOfList('input sources'));
    }
    this.expect(',');
    const system = this.unquoted('system');
    this.expect(',');
    const builder = this.escaped('builder');
    this.expect(',[');
    const args: string[] = [];
    if (!this.emptyList()) {
      do args.push(this.escaped('argument'));
      while (!this.endOfList('arguments'));
    }
    this.expect(',[');
    const env = dict<string>();
    if (!this.emptyList()) {
      let prev: string | undefined;
      do {
        this.expect('(');
        const at = this.pos;
        const key = this.escaped('environment variable name');
        this.ordered(prev, key, at, 'environment variable');
        this.expect(',');
        env[key] = this.escaped('the value of an environment variable');
        this.expect(')');
        prev = key;
      } while (!this.endOfList('environment variables'));
    }
    this.expect(')');
    if (this.pos !== this.text.length) this.fail('unexpected text after the derivation');
    return { outputs, inputDrvs, inputSrcs, system, builder, args, env };
  }

  outputs(): Record<string, DerivationOutput> {
    const outputs = dict<DerivationOutput>();
    if (this.emptyList()) this.fail('a derivation must have at least one output', this.pos - 1);
    let prev: string | undefined;
    let firstKind: string | undefined;
    let floatingAlgo: string | undefined;
    do {
      const at = this.pos;
      this.expect('(');
      const nameAt = this.pos;
      const name = this.outputName('output name');
      this.ordered(prev, name, nameAt, 'output');
      this.expect(',');
      const pathAt = this.pos;
      const path = this.unquoted('output path');
      this.expect(',');
      const hashAlgo = this.unquoted('output hash algorithm');
      this.expect(',');
      const hash = this.unquoted('output hash');
      this.expect(')');
      const out = { path, hashAlgo, hash };
      const kind = outputProblem(out);
      if (typeof kind === 'string') this.fail(`output '${name}': ${kind}`, at);
      if (kind.kind === 'fixed' && path === '') this.fail(`output '${name}': a fixed output must have its path`, pathAt);
      if (path !== '') {
        const problem = storePathProblem(path, this.storeDir);
        if (problem !== null) this.fail(`output path '${path}' ${problem}`, pathAt + 1);
      }
      if (firstKind !== undefined && kind.kind !== firstKind) this.fail(`output '${name}' is ${kind.kind} but an earlier one is ${firstKind}: Nix never mixes them`, at);
      if (kind.kind === 'fixed' && name !== 'out') this.fail('a fixed-output derivation has exactly one output, "out"', at);
      if (kind.kind === 'floating') {
        if (floatingAlgo !== undefined && floatingAlgo !== hashAlgo) this.fail('all floating outputs must use the same hash algorithm', at);
        floatingAlgo = hashAlgo;
      }
      firstKind = kind.kind;
      outputs[name] = out;
      prev = name;
    } while (!this.endOfList('outputs'));
    return outputs;
  }

  inputDrvs(): Record<string, string[]> {
    const inputDrvs = dict<string[]>();
    if (this.emptyList()) return inputDrvs;
    let prev: string | undefined;
    do {
      this.expect('(');
      const at = this.pos;
      const drvPath = this.storePath('input derivation');
      if (!drvPath.endsWith('.drv')) this.fail(`input derivation '${drvPath}' does not end in .drv`, at + 1);
      this.ordered(prev, drvPath, at, 'input derivation');
      this.expect(',[');
      const names: string[] = [];
      if (!this.emptyList()) {
        do {
          const nameAt = this.pos;
          const name = this.outputName('input derivation output name');
          this.ordered(names[names.length - 1], name, nameAt, 'output of an input derivation');
          names.push(name);
        } while (!this.endOfList('output names'));
      }
      this.expect(')');
      inputDrvs[drvPath] = names;
      prev = drvPath;
    } while (!this.endOfList('input derivations'));
    return inputDrvs;
  }
}

/**
 * Parses a .drv text. Throws DrvParseError (code 'DRV_PARSE', UTF-8 byte offset) for anything Nix would not
 * have written. Store paths must be under `storeDir` (default /nix/store).
 */
export function parseDerivation(text: string, opts: { storeDir?: string } = {}): Derivation {
  if (typeof text !== 'string') throw new DrvParseError('a derivation must be given as text', 0);
  return new Parser(text, opts.storeDir ?? DEFAULT_STORE_DIR).parse();
}

/** A string Nix prints without escaping; one it could not print faithfully is refused. */
function unq(s: string, what: string): string {
  if (s.indexOf('"') >= 0 || s.indexOf('\\') >= 0) {
    throw new NixError('INVALID_DERIVATION', `${what} '${s}' contains '"' or '\\', which Nix writes unescaped into the .drv`);
  }
  return '"' + s + '"';
}

const NEEDS_ESCAPE = /["\\\n\r\t]/;
const ESCAPES = /["\\\n\r\t]/g;
const ESCAPE_OF: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Whether Nix's printString changes `s`; short strings are scanned inline, sparing a regex call. */
function needsEscape(s: string): boolean {
  if (s.length > 32) return NEEDS_ESCAPE.test(s);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= BACKSLASH && (c === QUOTE || c === BACKSLASH || c === 0x0a || c === 0x0d || c === 0x09)) return true;
  }
  return false;
}

/** Nix's printString. */
function esc(s: string): string {
  return needsEscape(s) ? '"' + s.replace(ESCAPES, (c) => ESCAPE_OF[c]) + '"' : '"' + s + '"';
}

function unqList(items: string[], what: string): string {
  let s = '[';
  for (let i = 0; i < items.length; i++) s += (i === 0 ? '' : ',') + unq(items[i], what);
  return s + ']';
}

/**
 * Nix's Derivation::unparse. `maskOutputs` blanks output paths and the env vars named after outputs;
 * `actualInputs` (input hash -> output names, sorted) replaces inputDrvs, as hashDerivationModulo does.
 */
export function unparseDerivation(drv: Derivation, maskOutputs = false, actualInputs?: Array<[string, string[]]>): string {
  let s = 'Derive([';
  const outputNames = sortedByUtf8(Object.keys(drv.outputs));
  for (let i = 0; i < outputNames.length; i++) {
    const name = outputNames[i];
    const out = drv.outputs[name];
    s += (i === 0 ? '(' : ',(') + unq(name, 'output name') + ',' + (maskOutputs ? '""' : unq(out.path, 'output path'));
    s += ',' + unq(out.hashAlgo, 'output hash algorithm') + ',' + unq(out.hash, 'output hash') + ')';
  }
  s += '],[';
  if (actualInputs !== undefined) {
    s += printInputs(actualInputs);
  } else {
    const drvPaths = sortedByUtf8(Object.keys(drv.inputDrvs));
    for (let i = 0; i < drvPaths.length; i++) {
      const names = sortedByUtf8(drv.inputDrvs[drvPaths[i]]);
      s += (i === 0 ? '(' : ',(') + unq(drvPaths[i], 'input derivation') + ',' + unqList(names, 'output name') + ')';
    }
  }
  s += '],' + unqList(sortedByUtf8(drv.inputSrcs), 'input source');
  s += ',' + unq(drv.system, 'system') + ',' + esc(drv.builder) + ',[';
  for (let i = 0; i < drv.args.length; i++) s += (i === 0 ? '' : ',') + esc(drv.args[i]);
  s += '],[';
  const keys = sortedByUtf8(Object.keys(drv.env));
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const value = maskOutputs && Object.prototype.hasOwnProperty.call(drv.outputs, key) ? '' : drv.env[key];
    s += (i === 0 ? '(' : ',(') + esc(key) + ',' + esc(value) + ')';
  }
  return s + '])';
}

/** The inputDrvs list's elements as hashDerivationModulo prints them: (input hash, output names). */
export function printInputs(actualInputs: Array<[string, string[]]>): string {
  let s = '';
  for (let i = 0; i < actualInputs.length; i++) {
    s += (i === 0 ? '(' : ',(') + unq(actualInputs[i][0], 'input hash') + ',' + unqList(actualInputs[i][1], 'output name') + ')';
  }
  return s;
}

/** The .drv text Nix writes for this derivation (Derivation::unparse). */
export function printDerivation(drv: Derivation): string {
  return unparseDerivation(drv, false);
}
