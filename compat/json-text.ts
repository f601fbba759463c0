// JSON that survives a read-modify-write: numbers JavaScript cannot hold exactly (64-bit
// masks, RLIM_INFINITY) keep their original digits, and `__proto__` is an ordinary key.

export class JsonNumber {
  constructor(readonly raw: string) {}
}

export type JsonValue = null | boolean | number | string | JsonNumber | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** A number for JSON: exact as a JS number when it fits, else kept as its digits. */
export function jsonNumber(v: bigint | number): number | JsonNumber {
  if (typeof v === 'number') return v;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : new JsonNumber(v.toString());
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}

/** An object whose keys are plain data, `__proto__` included. */
export function jsonObject(): JsonObject {
  return Object.create(null) as JsonObject;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const SPACE = /[ \t\n\r]*/y;

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  fail(what: string): never {
    throw new SyntaxError(`${what} at offset ${this.pos}`);
  }

  private space(): void {
    SPACE.lastIndex = this.pos;
    SPACE.exec(this.text);
    this.pos = SPACE.lastIndex;
  }

  private token(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (m === null) return undefined;
    this.pos = re.lastIndex;
    return m[0];
  }

  private literal(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    this.pos += word.length;
    return true;
  }

  document(): JsonValue {
    const v = this.value(0);
    this.space();
    if (this.pos !== this.text.length) this.fail('unexpected data after the document');
    return v;
  }

  private value(depth: number): JsonValue {
    if (depth > 512) this.fail('nesting too deep');
    this.space();
    const ch = this.text[this.pos];
    if (ch === '{') return this.object(depth);
    if (ch === '[') return this.array(depth);
    if (ch === '"') return JSON.parse(this.token(STRING) ?? this.fail('bad string')) as string;
    if (this.literal('true')) return true;
    if (this.literal('false')) return false;
    if (this.literal('null')) return null;
    const raw = this.token(NUMBER) ?? this.fail('unexpected character');
    const n = Number(raw);
    return String(n) === raw ? n : new JsonNumber(raw);
  }

  private object(depth: number): JsonObject {
    const out = jsonObject();
    this.pos++;
    this.space();
    if (this.literal('}')) return out;
    for (;;) {
      this.space();
      const key = JSON.parse(this.token(STRING) ?? this.fail('expected a key')) as string;
      this.space();
      if (!this.literal(':')) this.fail('expected ":"');
      out[key] = this.value(depth + 1);
      this.space();
      if (this.literal('}')) return out;
      if (!this.literal(',')) this.fail('expected "," or "}"');
    }
  }

  private array(depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    this.pos++;
    this.space();
    if (this.literal(']')) return out;
    for (;;) {
      out.push(this.value(depth + 1));
      this.space();
      if (this.literal(']')) return out;
      if (!this.literal(',')) this.fail('expected "," or "]"');
    }
  }
}

export function parseJson(text: string): { ok: true; value: JsonValue } | { ok: false; error: string } {
  try {
    return { ok: true, value: new Parser(text).document() };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** As JSON.stringify(v, null, 2), with JsonNumber written as its digits. */
export function stringifyJson(v: JsonValue, indent = ''): string {
  if (v instanceof JsonNumber) return v.raw;
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + stringifyJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  const keys = Object.keys(v);
  if (keys.length === 0) return '{}';
  return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${stringifyJson(v[k]!, inner)}`).join(',\n')}\n${indent}}`;
}
