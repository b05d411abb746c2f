/**
 * Incremental RFC 6455 §5 frame parser for the upstream's direction of a WebSocket session: bytes
 * in, frame events out (SPEC §13 "Usage"). Data-frame payloads are handed on as views of the fed
 * chunks, never copied or held; the parser itself holds at most one frame header (10 bytes: a
 * server's frames carry no mask) and one control frame's payload (125 bytes). It never does I/O
 * and never throws on input: the first protocol problem is reported once and parsing stops.
 */
import { Buffer } from 'node:buffer';

/** Why the parser stopped reading: every case is one RFC 6455 says to fail the connection for. */
export type FrameProblem =
  | 'masked_frame' // §5.1: "A client MUST close a connection if it detects a masked frame."
  | 'reserved_opcode' // §5.2: opcodes 0x3–0x7 and 0xB–0xF are reserved
  | 'reserved_bits' // §5.2: RSV1–3 MUST be 0 unless an extension defines them (RFC 7692 §6: RSV1)
  | 'fragmented_control' // §5.5: "Control frames MUST NOT be fragmented."
  | 'control_too_long' // §5.5: control frames carry at most 125 bytes of payload
  | 'unexpected_continuation' // §5.4: a continuation frame with no message to continue
  | 'expected_continuation' // §5.4: a new message began before the fragmented one ended
  | 'invalid_length' // §5.2: the most significant bit of a 64-bit length MUST be 0
  | 'unsupported_length' // a length past 2^53 − 1, which no JavaScript number counts exactly
  | 'invalid_close_payload'; // §5.5.1: a close payload is empty or starts with a 2-byte code

export type DataOpcode = 1 | 2; // §5.2: 0x1 text, 0x2 binary

export interface DataFrame {
  /** As on the wire: 0 for a continuation frame. */
  readonly opcode: 0 | DataOpcode;
  /** The opcode of the message this frame belongs to (its first frame's). */
  readonly messageOpcode: DataOpcode;
  readonly fin: boolean;
  /** This frame's RSV1 bit; RFC 7692 §6 sets it only on a compressed message's first frame. */
  readonly rsv1: boolean;
  /** Whether the message this frame belongs to is compressed (its first frame's RSV1). */
  readonly compressed: boolean;
  readonly payloadLength: number;
}

/**
 * Events come in stream order, synchronously inside feed(). An exception thrown by a callback
 * reaches feed()'s caller, and the rest of that chunk is not parsed.
 */
export interface FrameCallbacks {
  /** A data frame's header; its payload follows as onPayload pieces, then onDataFrameEnd. */
  onDataFrame(frame: DataFrame): void;
  /**
   * A piece of the current data frame's payload, never empty: a view of the fed chunk (copy it
   * to keep it past a caller that reuses its buffers). Pieces of a frame add up to its length.
   */
  onPayload(piece: Buffer): void;
  onDataFrameEnd(frame: DataFrame): void;
  /** §5.5.1: code undefined for an empty close payload (1005 "no status"). Parsing ends here. */
  onClose(code: number | undefined, reason: Buffer): void;
  onPing?(payload: Buffer): void;
  onPong?(payload: Buffer): void;
  /** At most once; nothing is parsed after it. */
  onProblem(problem: FrameProblem, detail: string): void;
}

export interface FrameParserOptions {
  /** Whether RSV1 may be set: permessage-deflate was negotiated (RFC 7692 §6). */
  perMessageDeflate?: boolean;
}

export interface FrameParser {
  /** Never throws on any input; a no-op once the parser stopped. */
  feed(chunk: Buffer): void;
  /** End of input: the parser stops; a frame cut short is simply never finished. */
  end(): void;
  /** Bytes the parser holds between feeds (a partial header or control payload). */
  readonly bufferedBytes: number;
  /** Whether the parser stopped: after a close frame, a problem or end(). */
  readonly stopped: boolean;
}

const MAX_HEADER_BYTES = 10; // 2 + 8 for a 64-bit length; a server's frames carry no mask key
const MAX_CONTROL_PAYLOAD = 125; // §5.5
const OPCODE_CONTINUATION = 0x0;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;
const LENGTH_16 = 126; // §5.2: "If 126, the following 2 bytes … are the payload length."
const LENGTH_64 = 127; // §5.2: "If 127, the following 8 bytes …"
const EMPTY = Buffer.alloc(0);

export function createFrameParser(callbacks: FrameCallbacks, options: FrameParserOptions = {}): FrameParser {
  return new Parser(callbacks, options.perMessageDeflate === true);
}

/** header: gathering a frame header; payload: in a data frame; control: gathering a control payload. */
type State = 'header' | 'payload' | 'control' | 'stopped';

// A class, not a closure factory, like the SSE parser: one parser lives per open session.
class Parser implements FrameParser {
  private readonly callbacks: FrameCallbacks;
  private readonly rsv1Allowed: boolean;
  private state: State = 'header';
  private readonly header = Buffer.alloc(MAX_HEADER_BYTES);
  private headerFill = 0;
  private control: Buffer | undefined; // allocated at the first control frame with a payload
  private controlFill = 0;
  private controlOpcode = 0;
  private remaining = 0; // payload bytes still to come in the current frame
  private frame: DataFrame | undefined;
  // The fragmented message in progress: its opcode (0 when none) and whether it is compressed.
  private messageOpcode: 0 | DataOpcode = 0;
  private messageCompressed = false;

  constructor(callbacks: FrameCallbacks, rsv1Allowed: boolean) {
    this.callbacks = callbacks;
    this.rsv1Allowed = rsv1Allowed;
  }

  get bufferedBytes(): number {
    return this.headerFill + this.controlFill;
  }

  get stopped(): boolean {
    return this.state === 'stopped';
  }

  end(): void {
    this.stop();
  }

  feed(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && this.state !== 'stopped') {
      if (this.state === 'header') offset = this.readHeader(chunk, offset);
      else if (this.state === 'payload') offset = this.readPayload(chunk, offset);
      else offset = this.readControl(chunk, offset);
    }
  }

  private stop(): void {
    this.state = 'stopped';
    this.headerFill = 0;
    this.controlFill = 0;
    this.control = undefined;
  }

  private fail(problem: FrameProblem, detail: string): void {
    this.stop();
    this.callbacks.onProblem(problem, detail);
  }

  private readHeader(chunk: Buffer, offset: number): number {
    // The first two bytes say how long the header is; a header split across chunks is gathered
    // in this.header (at most 10 bytes), one without a split is gathered the same way: it is tiny.
    const need = this.headerFill < 2 ? 2 : headerLength(this.header[1] ?? 0);
    const n = Math.min(need - this.headerFill, chunk.length - offset);
    chunk.copy(this.header, this.headerFill, offset, offset + n);
    this.headerFill += n;
    offset += n;
    if (this.headerFill < need) return offset;
    if (need === 2 && !this.checkFirstBytes()) return offset;
    if (this.headerFill < headerLength(this.header[1] ?? 0)) return offset;
    this.startFrame();
    return offset;
  }

  /** The checks the first two bytes allow, made before the rest of the header arrives. */
  private checkFirstBytes(): boolean {
    const b0 = this.header[0] ?? 0;
    const b1 = this.header[1] ?? 0;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const length7 = b1 & 0x7f;
    const isControl = opcode >= OPCODE_CLOSE;
    if (!isDataOpcode(opcode) && opcode !== OPCODE_CLOSE && opcode !== OPCODE_PING && opcode !== OPCODE_PONG) {
      this.fail('reserved_opcode', `opcode 0x${opcode.toString(16)} is reserved`);
      return false;
    }
    if ((b0 & 0x30) !== 0) {
      this.fail('reserved_bits', 'RSV2 or RSV3 is set and no extension defines them');
      return false;
    }
    // RFC 7692 §6: RSV1 marks a compressed message on its first frame, and only there.
    if (rsv1 && (!this.rsv1Allowed || isControl || opcode === OPCODE_CONTINUATION)) {
      const where = !this.rsv1Allowed ? 'without a negotiated extension' : isControl ? 'on a control frame' : 'on a continuation frame';
      this.fail('reserved_bits', `RSV1 is set ${where}`);
      return false;
    }
    if ((b1 & 0x80) !== 0) {
      this.fail('masked_frame', 'a frame from the server is masked');
      return false;
    }
    if (isControl) {
      if (!fin) {
        this.fail('fragmented_control', `control frame 0x${opcode.toString(16)} without FIN`);
        return false;
      }
      if (length7 > MAX_CONTROL_PAYLOAD) {
        this.fail('control_too_long', `control frame 0x${opcode.toString(16)} longer than ${MAX_CONTROL_PAYLOAD} bytes`);
        return false;
      }
      if (opcode === OPCODE_CLOSE && length7 === 1) {
        this.fail('invalid_close_payload', 'a close frame with a 1-byte payload');
        return false;
      }
      return true;
    }
    if (opcode === OPCODE_CONTINUATION && this.messageOpcode === 0) {
      this.fail('unexpected_continuation', 'a continuation frame with no message in progress');
      return false;
    }
    if (opcode !== OPCODE_CONTINUATION && this.messageOpcode !== 0) {
      this.fail('expected_continuation', `opcode 0x${opcode.toString(16)} while a fragmented message is in progress`);
      return false;
    }
    return true;
  }

  private startFrame(): void {
    const header = this.header;
    const b0 = header[0] ?? 0;
    const length7 = (header[1] ?? 0) & 0x7f;
    this.headerFill = 0;
    let length = length7;
    if (length7 === LENGTH_16) {
      length = header.readUInt16BE(2);
    } else if (length7 === LENGTH_64) {
      const high = header.readUInt32BE(2);
      if (high >= 0x8000_0000) {
        this.fail('invalid_length', 'a 64-bit payload length with its most significant bit set');
        return;
      }
      if (high > 0x1f_ffff) {
        this.fail('unsupported_length', 'a payload length past 2^53 - 1 bytes');
        return;
      }
      length = high * 0x1_0000_0000 + header.readUInt32BE(6);
    }
    // §5.2 asks for the minimal length encoding; clients (ws, browsers) accept longer ones, so
    // the side reader does too: it must read what the client reads.
    const opcode = b0 & 0x0f;
    if (opcode >= OPCODE_CLOSE) {
      this.controlOpcode = opcode;
      this.remaining = length;
      if (length === 0) this.endControl(EMPTY);
      else this.state = 'control';
      return;
    }
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    if (opcode !== OPCODE_CONTINUATION) {
      this.messageOpcode = opcode as DataOpcode;
      this.messageCompressed = rsv1;
    }
    const frame: DataFrame = {
      opcode: opcode as 0 | DataOpcode,
      messageOpcode: this.messageOpcode as DataOpcode,
      fin,
      rsv1,
      compressed: this.messageCompressed,
      payloadLength: length,
    };
    if (fin) {
      this.messageOpcode = 0;
      this.messageCompressed = false;
    }
    this.frame = frame;
    this.remaining = length;
    this.state = 'payload';
    this.callbacks.onDataFrame(frame);
    if (length === 0 && this.state === 'payload') this.endDataFrame();
  }

  private readPayload(chunk: Buffer, offset: number): number {
    const n = Math.min(this.remaining, chunk.length - offset);
    this.remaining -= n;
    this.callbacks.onPayload(chunk.subarray(offset, offset + n));
    if (this.remaining === 0 && this.state === 'payload') this.endDataFrame();
    return offset + n;
  }

  private endDataFrame(): void {
    const frame = this.frame as DataFrame;
    this.frame = undefined;
    if (this.state === 'payload') this.state = 'header';
    this.callbacks.onDataFrameEnd(frame);
  }

  private readControl(chunk: Buffer, offset: number): number {
    // A control payload whole inside the chunk is handed on as a view, one split is gathered.
    if (this.controlFill === 0 && chunk.length - offset >= this.remaining) {
      const payload = chunk.subarray(offset, offset + this.remaining);
      offset += this.remaining;
      this.endControl(payload);
      return offset;
    }
    this.control ??= Buffer.alloc(MAX_CONTROL_PAYLOAD);
    const n = Math.min(this.remaining - this.controlFill, chunk.length - offset);
    chunk.copy(this.control, this.controlFill, offset, offset + n);
    this.controlFill += n;
    if (this.controlFill === this.remaining) {
      const payload = Buffer.from(this.control.subarray(0, this.controlFill));
      this.controlFill = 0;
      this.endControl(payload);
    }
    return offset + n;
  }

  private endControl(payload: Buffer): void {
    this.remaining = 0;
    if (this.controlOpcode === OPCODE_CLOSE) {
      // §5.5.1: after sending a close frame the server sends no more data frames; stop here.
      this.stop();
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : undefined;
      this.callbacks.onClose(code, payload.subarray(Math.min(2, payload.length)));
      return;
    }
    this.state = 'header';
    if (this.controlOpcode === OPCODE_PING) this.callbacks.onPing?.(payload);
    else this.callbacks.onPong?.(payload);
  }
}

function isDataOpcode(opcode: number): boolean {
  return opcode === OPCODE_CONTINUATION || opcode === 1 || opcode === 2;
}

/** The header's length from its second byte (§5.2), mask key excluded: a masked frame fails first. */
function headerLength(b1: number): number {
  const length7 = b1 & 0x7f;
  return length7 === LENGTH_16 ? 4 : length7 === LENGTH_64 ? MAX_HEADER_BYTES : 2;
}
