/**
 * Turning C text into tokens, and the one error shape every rejection uses: a column, a quote of the
 * input around it, and what would have been accepted there.
 */
import { DlswapError } from '../errors';

// ---------------------------------------------------------------------------------------------------
// Errors

const QUOTE_LIMIT = 100;

/** Long inputs are quoted as a window around the failure so the message stays readable. */
function quote(src: string, col: number): string {
  if (src.length <= QUOTE_LIMIT) return JSON.stringify(src);
  const at = Math.max(0, Math.min(col - 1, src.length));
  const start = Math.max(0, at - QUOTE_LIMIT / 2);
  const end = Math.min(src.length, start + QUOTE_LIMIT);
  return `${start > 0 ? '...' : ''}${JSON.stringify(src.slice(start, end))}${end < src.length ? '...' : ''}`;
}

/** @internal */
export interface Source {
  text: string;
  /** Noun for the message: 'C prototype', 'C type'. */
  what: string;
  /** Where the text came from when it is one field of a larger input, e.g. 'args[2]'. */
  where?: string;
  /**
   * Type declarations (lib/signature/ctypes_declarations.ts): comments are skipped, and braces, `=` and the
   * operators of constant expressions are tokens. Prototypes refuse all of these.
   */
  declarations?: boolean;
  /** Longest input accepted (MAX_PROTOTYPE_LENGTH unless given). */
  maxLength?: number;
}

/** @internal */
export function fail(src: Source, col: number, message: string): never {
  const where = src.where ? ` (${src.where})` : '';
  throw new DlswapError('ERR_DLSWAP_SIGNATURE', `Invalid ${src.what} ${quote(src.text, col)}${where} at column ${col}: ${message}`);
}

// ---------------------------------------------------------------------------------------------------
// Tokenizer

type TokenType = 'ident' | 'punct' | 'number' | 'eof';
/** @internal */
export interface Token {
  type: TokenType;
  value: string;
  /** 1-based, in UTF-16 code units (what String.prototype indexing counts). */
  col: number;
}

function isIdentStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isWhitespace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

const SINGLE_PUNCT = new Set(['*', '(', ')', ',', ';', '[', ']', ':']);
/** Also tokens in declarations: bodies, enumerator values and the operators of constant expressions. */
const DECLARATION_PUNCT = new Set(['{', '}', '=', '+', '-', '~', '|', '&', '^', '/', '%', '!']);

function unexpectedCharacter(text: string, i: number): string {
  switch (text[i]) {
    case '.':
      return "unexpected '.'; a variadic parameter is written '...'";
    case '/':
      if (text[i + 1] === '*' || text[i + 1] === '/') return 'comments are not supported';
      break;
    case '{':
      return "unexpected '{': struct, union and enum bodies are not supported";
    case '=':
      return "unexpected '=': default arguments and initializers are not supported";
    case '&':
      return "unexpected '&': references are not supported; use a pointer ('*')";
  }
  return `unexpected character ${describeChar(text, i)}`;
}

function describeChar(text: string, i: number): string {
  const cp = text.codePointAt(i)!;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  // Invisible characters are named only by code point: quoting them would show nothing useful.
  if (/[\p{White_Space}\p{C}]/u.test(String.fromCodePoint(cp))) return hex;
  return `'${String.fromCodePoint(cp)}' (${hex})`;
}

/** @internal */
/** End of the identifier or number starting at i: both run to the first character that is neither. */
function wordEnd(text: string, i: number): number {
  let j = i + 1;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (!isIdentStart(d) && !isDigit(d)) break;
    j++;
  }
  return j;
}

export function tokenize(src: Source): Token[] {
  const text = src.text;
  const tokens: Token[] = [];
  const decl = src.declarations === true;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (isWhitespace(c)) {
      i++;
      continue;
    }
    const col = i + 1;
    if (decl && c === 0x2f /* / */ && (text[i + 1] === '*' || text[i + 1] === '/')) {
      if (text[i + 1] === '/') {
        const nl = text.indexOf('\n', i);
        i = nl < 0 ? text.length : nl + 1;
      } else {
        const end = text.indexOf('*/', i + 2);
        if (end < 0) fail(src, col, "unterminated comment: '/*' without '*/'");
        i = end + 2;
      }
      continue;
    }
    if (decl && c === 0x23 /* # */) {
      fail(src, col, 'preprocessor directives are not supported: declare constants as enum members, and pass the types a header would include');
    }
    if (decl && (text.startsWith('<<', i) || text.startsWith('>>', i))) {
      tokens.push({ type: 'punct', value: text.slice(i, i + 2), col });
      i += 2;
      continue;
    }
    if (decl && DECLARATION_PUNCT.has(text[i])) {
      tokens.push({ type: 'punct', value: text[i], col });
      i++;
      continue;
    }
    if (isIdentStart(c)) {
      const j = wordEnd(text, i);
      tokens.push({ type: 'ident', value: text.slice(i, j), col });
      i = j;
      continue;
    }
    if (isDigit(c)) {
      // Numbers only occur in array sizes and bit widths; lexing them whole lets the parser name
      // the construct instead of complaining about a stray digit.
      const j = wordEnd(text, i);
      tokens.push({ type: 'number', value: text.slice(i, j), col });
      i = j;
      continue;
    }
    const ch = text[i];
    if (ch === '.' && text.startsWith('...', i)) {
      tokens.push({ type: 'punct', value: '...', col });
      i += 3;
      continue;
    }
    if (SINGLE_PUNCT.has(ch)) {
      tokens.push({ type: 'punct', value: ch, col });
      i++;
      continue;
    }
    fail(src, col, unexpectedCharacter(text, i));
  }
  tokens.push({ type: 'eof', value: '', col: text.length + 1 });
  return tokens;
}

/** @internal */
export function describeToken(t: Token): string {
  if (t.type === 'eof') return 'the end of the input';
  if (t.type === 'number') return `number '${t.value}'`;
  return `'${t.value}'`;
}

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}
