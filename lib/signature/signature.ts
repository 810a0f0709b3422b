/**
 * C prototypes: turns `'int add(int a, int b)'` into the Signature the native call machinery consumes.
 * The entry points are here; the parser behind them is split by what it reads: the vocabulary
 * (signature_vocabulary.ts), tokens and error reporting (signature_tokens.ts), declaration specifiers
 * (signature_specifiers.ts), and declarators, prototypes and lone types (signature_parser.ts). It
 * parses the one declarator shape we support (a function taking scalars, pointers, function pointers
 * and, given a type scope, the structs, unions, enums and typedefs declared in it), so that every
 * rejection can point at a column and say what would have been accepted there.
 *
 * The declaration parser of lib/signature/ctypes_declarations.ts (struct bodies, typedefs, enums) extends that
 * Parser; a prototype parsed with a TypeScope resolves the names declared there (docs/types.md).
 */
import type { TypeScope } from './ctype_model';
import { DlswapError } from '../errors';
import { MAX_PARAMS, type Param, type Signature, type TypeInfo, type TypePosition } from './signature_kinds';
import { buildSignature, Parser } from './signature_parser';
import { describeValue } from './signature_tokens';

// The model every caller of the parser works with, re-exported so that the signature module stays
// the one import for it.
export {
  KIND_CODES,
  kindCode,
  kindIsBigInt,
  MAX_PARAMS,
  MAX_POINTER_DEPTH,
  MAX_PROTOTYPE_LENGTH,
  type Kind,
  type Param,
  type Signature,
  type TypeInfo,
  type TypePosition,
} from './signature_kinds';
export { MAX_FUNCTION_NESTING } from './signature_parser';
import { RESERVED } from './signature_vocabulary';

/**
 * Parses one C function prototype, e.g. `'size_t strlen(const char *s)'`. Throws
 * `DlswapError('ERR_DLSWAP_SIGNATURE')` naming the column on anything outside the supported subset.
 */
export function parsePrototype(text: string, scope?: TypeScope): Signature {
  return new Parser({ text, what: 'C prototype' }, scope).parsePrototype();
}

/**
 * Parses a lone C type such as `'unsigned long'` or `'const char *'`. `position` decides the pointer
 * and promotion rules (see TypePosition); the default, 'param', is what a fixed argument gets.
 */
export function parseType(text: string, position: TypePosition = 'param', scope?: TypeScope): TypeInfo {
  if (position !== 'param' && position !== 'return' && position !== 'variadic') {
    throw new DlswapError('ERR_DLSWAP_SIGNATURE', `Invalid type position ${JSON.stringify(String(position))}; expected 'param', 'return' or 'variadic'`);
  }
  return new Parser({ text, what: 'C type' }, scope).parseStandaloneType(position, false).type;
}

export interface SignatureObject {
  name: string;
  returns: string;
  /** One C type per parameter, optionally followed by a name: `'const char *'`, `'int count'`. */
  args: readonly string[];
  variadic?: boolean;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The object form of a prototype: `{ name: 'add', returns: 'int', args: ['int', 'int'] }`. */
export function signatureFromObject(obj: SignatureObject, scope?: TypeScope): Signature {
  const bad = (message: string): never => {
    throw new DlswapError('ERR_DLSWAP_SIGNATURE', `Invalid signature object: ${message}`);
  };
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) bad(`expected an object, got ${describeValue(obj)}`);
  const { name, returns, args, variadic = false } = obj;
  if (typeof name !== 'string') bad(`'name' must be a string, got ${describeValue(name)}`);
  if (!IDENTIFIER.test(name) || RESERVED.has(name)) {
    bad(`'name' must be a C identifier that is not a keyword, got ${JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}...` : name)}`);
  }
  if (typeof returns !== 'string') bad(`'returns' must be a string, got ${describeValue(returns)}`);
  if (!Array.isArray(args)) bad(`'args' must be an array of C type strings, got ${describeValue(args)}`);
  if (typeof variadic !== 'boolean') bad(`'variadic' must be a boolean, got ${describeValue(variadic)}`);
  if (args.length > MAX_PARAMS) bad(`too many parameters (${args.length}; the limit is ${MAX_PARAMS})`);

  const ret = new Parser({ text: returns, what: 'C type', where: 'returns' }, scope).parseStandaloneType('return', false).type;

  const params: Param[] = [];
  const names = new Map<string, number>();
  // ['void'] is C's spelling of an empty list, accepted for symmetry with the prototype form.
  const lone = args.length === 1 && typeof args[0] === 'string' && isLoneVoid(args[0]);
  if (!lone) {
    args.forEach((arg, i) => {
      const where = `args[${i}]`;
      const parsed = new Parser({ text: arg, what: 'C type', where }, scope).parseStandaloneType('param', true);
      if (parsed.name !== null) {
        if (names.has(parsed.name)) bad(`duplicate parameter name '${parsed.name}' in ${where} (first in args[${names.get(parsed.name)}])`);
        names.set(parsed.name, i);
      }
      params.push({ name: parsed.name, type: parsed.type });
    });
  }
  if (variadic && params.length === 0) bad("a variadic function needs at least one fixed parameter before '...'");
  return buildSignature(name, ret, params, variadic);
}

function isLoneVoid(text: string): boolean {
  // Same whitespace set as the tokenizer, so no other spelling of 'void' slips through here.
  return /^[ \t\n\v\f\r]*void[ \t\n\v\f\r]*$/.test(text);
}
