/**
 * Integer constant expressions in declarations (enumerator values, array lengths): literals,
 * enumerators, parentheses, unary and binary operators, evaluated as C would in 64 bits. The nesting
 * bound lives here because every recursive part of a declaration (bodies, declarators, parentheses)
 * shares it.
 */
import type { TypeScope } from './ctype_model';
import { Parser } from './signature_parser';
import { describeToken } from './signature_tokens';

/**
 * How deeply bodies, declarators and constant expressions may nest. Real headers stay far below it;
 * it keeps a hostile text from exhausting the stack (it is refused like any other invalid text).
 */
export const MAX_NESTING = 64;

/** @internal The part of the declaration parser that evaluates constants; DeclParser extends it. */
export class ConstantParser extends Parser {
  /** Nesting of bodies, grouped declarators and parenthesized or unary constant expressions. */
  private depth = 0;

  /** Runs `f` one level deeper, refusing past MAX_NESTING. */
  protected nested<T>(col: number, f: () => T): T {
    if (this.depth >= MAX_NESTING) this.fail(col, `nested too deeply (at most ${MAX_NESTING} levels of bodies, declarators or parentheses)`);
    this.depth++;
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  protected get lookup(): TypeScope {
    return this.scope!;
  }

  /** An integer constant expression: literals, enumerators, parentheses, unary and binary operators. */
  parseConstant(): bigint {
    return this.parseBinary(0);
  }

  private static readonly LEVELS: string[][] = [['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];

  private parseBinary(level: number): bigint {
    if (level === ConstantParser.LEVELS.length) return this.parseUnary();
    let left = this.parseBinary(level + 1);
    for (;;) {
      const op = this.peek();
      if (op.type !== 'punct' || !ConstantParser.LEVELS[level].includes(op.value)) return left;
      this.next();
      const right = this.parseBinary(level + 1);
      left = this.apply(op.value, left, right, op.col);
    }
  }

  private apply(op: string, a: bigint, b: bigint, col: number): bigint {
    switch (op) {
      case '|':
        return a | b;
      case '^':
        return a ^ b;
      case '&':
        return a & b;
      case '<<':
      case '>>':
        if (b < 0n || b > 63n) this.fail(col, `shift count ${b} is out of range (0 to 63)`);
        return op === '<<' ? a << b : a >> b;
      case '+':
        return a + b;
      case '-':
        return a - b;
      case '*':
        return a * b;
      default:
        if (b === 0n) this.fail(col, 'division by zero in a constant expression');
        return op === '/' ? a / b : a % b;
    }
  }

  private parseUnary(): bigint {
    const t = this.peek();
    if (t.type === 'punct' && (t.value === '-' || t.value === '+' || t.value === '~' || t.value === '!')) {
      this.next();
      const v = this.nested(t.col, () => this.parseUnary());
      if (t.value === '-') return -v;
      if (t.value === '~') return ~v;
      if (t.value === '!') return v === 0n ? 1n : 0n;
      return v;
    }
    if (this.isPunct('(')) {
      this.next();
      const v = this.nested(t.col, () => this.parseBinary(0));
      const close = this.peek();
      if (!this.isPunct(')')) this.fail(close.col, `expected ')', found ${describeToken(close)}`);
      this.next();
      return v;
    }
    if (t.type === 'number') {
      this.next();
      const m = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)([uU]?(?:l|L|ll|LL)?|(?:l|L|ll|LL)[uU])$/.exec(t.value);
      if (!m) this.fail(t.col, `'${t.value}' is not an integer constant`);
      const digits = m[1];
      if (digits.length > 1 && digits[0] === '0' && /^[0-7]+$/.test(digits.slice(1))) return BigInt(`0o${digits.slice(1)}`);
      return BigInt(digits);
    }
    if (t.type === 'ident') {
      const v = this.lookup.constant(t.value);
      if (v === undefined) this.fail(t.col, `'${t.value}' is not a constant declared before it (only enumerators can name values)`);
      this.next();
      return v;
    }
    this.fail(t.col, `expected an integer constant, found ${describeToken(t)}`);
  }
}
