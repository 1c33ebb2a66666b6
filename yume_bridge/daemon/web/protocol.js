// Protocol v1 (protocol/SPEC.md) over one WebSocket: each message is one datagram, JSON control or a
// frame fragment (SPEC §13). The browser's side of the same state machine the engine plugins run:
// hello → retry → hello(cookie[, auth]) → welcome, then session messages with seq and, with a token, tags.

import { hmacSha256, sha256 } from "./hmac.js";

const TAG_BYTES = 16;
const FRAME_HEADER_BYTES = 44;
const PING_MS = 1000;
const UPLOAD_WINDOW = 32;
const UPLOAD_RESEND_MS = 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const base64 = {
  encode(bytes) {
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  },
  decode(text) {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  },
};

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};

const equalBytes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
const u32le = (value) => new Uint8Array(new Uint32Array([value]).buffer);
const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));

/** The 44-byte fragment header (SPEC §6.1) of a frame datagram. */
export function parseFragment(bytes) {
  if (bytes.length < FRAME_HEADER_BYTES || bytes[0] !== 0x59 || bytes[1] !== 0x46 || bytes[2] !== 1) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = {
    flags: v.getUint8(3), session: v.getUint32(4, true), frame: v.getUint32(8, true), chunk: v.getUint32(12, true),
    frameInChunk: v.getUint16(16, true), index: v.getUint16(18, true), count: v.getUint16(20, true),
    payloadLength: v.getUint16(22, true), frameLength: v.getUint32(24, true), inputSeq: v.getUint32(28, true),
    timeUs: Number(v.getBigUint64(32, true)), action: v.getUint8(40),
  };
  const payload = bytes.subarray(FRAME_HEADER_BYTES);
  if (header.count < 1 || header.index >= header.count || payload.length !== header.payloadLength) return null;
  return { header, payload };
}

/**
 * Fragments → whole JPEG frames. A WebSocket neither loses nor reorders, so a frame's fragments arrive
 * together and in order; anything inconsistent (or a frame left incomplete by a newer one) is dropped.
 */
export class FrameAssembler {
  constructor() {
    this.partial = null;
    this.dropped = 0;
  }

  push(bytes, session) {
    const fragment = parseFragment(bytes);
    if (fragment === null || fragment.header.session !== session) {
      this.dropped += 1;
      return null;
    }
    const { header, payload } = fragment;
    if (this.partial === null || this.partial.header.frame !== header.frame) {
      if (this.partial !== null) this.dropped += 1;
      this.partial = { header, pieces: [], bytes: 0 };
    }
    const partial = this.partial;
    if (header.index !== partial.pieces.length) {  // out of order: cannot happen on one WebSocket
      this.partial = null;
      this.dropped += 1;
      return null;
    }
    partial.pieces.push(payload);
    partial.bytes += payload.length;
    if (partial.pieces.length < header.count) return null;
    this.partial = null;
    if (partial.bytes !== header.frameLength) {
      this.dropped += 1;
      return null;
    }
    return { ...partial.header, jpeg: new Blob(partial.pieces, { type: "image/jpeg" }) };
  }
}

/**
 * One session with the daemon over a WebSocket. Emits (as DOM events with `detail`): `welcome`, `status`, `started`, `event-ack`, `upload-progress`, `frame`,
 * `pong`, `error` ({code, message, fatal}), `closed` ({reason}).
 */
export class StudioConnection extends EventTarget {
  constructor({ url, token = null, quality = 85 }) {
    super();
    this.url = url;
    this.token = token;
    this.quality = quality;
    this.state = "idle"; // idle → connecting → connected → closed
    this.welcome = null;
    this.session = 0;
    this.key = null;
    this.seq = 0;
    this.lastPing = 0;
    this.assembler = new FrameAssembler();
    this.upload = null;
    this.pings = new Map();
  }

  open() {
    this.state = "connecting";
    this.nonce = randomBytes(16);
    this.socket = new WebSocket(this.url);
    this.socket.binaryType = "arraybuffer";
    this.socket.onopen = () => this.sendHello(null, null);
    this.socket.onmessage = (message) => {
      const data = typeof message.data === "string" ? encoder.encode(message.data) : new Uint8Array(message.data);
      this.receive(data);
    };
    this.socket.onclose = (event) => this.finish(event.reason || (event.code === 1006 ? "the daemon went away" : "closed"));
    this.keepalive = setInterval(() => this.tick(), 250);
  }

  close(reason = "client") {
    if (this.state === "connected") this.send({ type: "bye", reason });
    this.finish(reason);
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000, reason);
  }

  finish(reason) {
    clearInterval(this.keepalive);
    if (this.state === "closed") return;
    this.state = "closed";
    this.emit("closed", { reason });
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  // --- sending ---------------------------------------------------------------------------------

  sendHello(cookie, authTag) {
    const hello = {
      type: "hello", protocol: 1, nonce: base64.encode(this.nonce), client: "yume-bridge-studio",
      client_version: "0.1.0", engine: "browser", quality: this.quality, max_datagram: 65000,
      pad: base64.encode(new Uint8Array(32)),
    };
    if (cookie) hello.cookie = base64.encode(cookie);
    if (authTag) hello.auth = base64.encode(authTag);
    this.socket.send(encoder.encode(JSON.stringify(hello)));
  }

  /** Send a session message; returns its seq. */
  send(message) {
    if (this.state !== "connected" || this.socket.readyState !== WebSocket.OPEN) return 0;
    this.seq += 1;
    const body = encoder.encode(JSON.stringify({ ...message, session: this.session, seq: this.seq }));
    const limit = this.welcome.limits.max_control_bytes - (this.key ? TAG_BYTES : 0);
    if (body.length > limit) throw new Error(`message of ${body.length} bytes exceeds the daemon's ${limit}`);
    this.socket.send(this.key ? concat(body, hmacSha256(this.key, body).subarray(0, TAG_BYTES)) : body);
    return this.seq;
  }

  sendInput({ move, look, keys }) {
    return this.send({ type: "input", time_us: Math.round(performance.now() * 1000), move, look, keys });
  }

  sendEvent(id, text) {
    return this.send({ type: "event", id, text });
  }

  start({ source, image = null, prompt = "" }) {
    const message = { type: "start", source, prompt, seed: crypto.getRandomValues(new Uint32Array(1))[0] };
    if (image) message.image = base64.encode(image);
    return this.send(message);
  }

  configure(fields) {
    return this.send({ type: "config", ...fields });
  }

  /** Upload a start image (JPEG/PNG bytes); resolves to its SHA-256 when the daemon has decoded it. */
  uploadImage(bytes) {
    const limits = this.welcome.limits;
    if (bytes.length > limits.max_upload_bytes) {
      return Promise.reject(new Error(`the image has ${bytes.length} bytes; the daemon takes at most ${limits.max_upload_bytes}`));
    }
    const digest = sha256(bytes);
    // Each piece's message must fit max_control_bytes once base64 has grown it by a third.
    const piece = Math.floor((limits.max_control_bytes - 256 - TAG_BYTES) / 4) * 3;
    return new Promise((resolve, reject) => {
      this.upload = { digest, bytes, piece, next: 0, unacked: new Map(), resolve, reject };
      this.pumpUpload();
    });
  }

  pumpUpload() {
    const upload = this.upload;
    while (upload && upload.unacked.size < UPLOAD_WINDOW && upload.next < upload.bytes.length) {
      this.sendPiece(upload.next);
      upload.next += upload.piece;
    }
  }

  sendPiece(offset) {
    const { digest, bytes, piece, unacked } = this.upload;
    unacked.set(offset, performance.now());
    this.send({ type: "upload", hash: base64.encode(digest), size: bytes.length, offset,
                data: base64.encode(bytes.subarray(offset, offset + piece)) });
  }

  ping() {
    this.lastPing = performance.now();
    const seq = this.send({ type: "ping", time_us: Math.round(this.lastPing * 1000) });
    this.pings.set(seq, this.lastPing);
  }

  tick() {
    if (this.state !== "connected") return;
    const now = performance.now();
    if (now - this.lastPing >= PING_MS) this.ping(); // keeps the session alive too (SPEC §3.2)
    for (const [offset, sent] of this.upload ? this.upload.unacked : []) {
      if (now - sent >= UPLOAD_RESEND_MS) this.sendPiece(offset);
    }
  }

  // --- receiving -------------------------------------------------------------------------------

  receive(data) {
    if (data[0] === 0x59 && data[1] === 0x46) {
      if (this.state !== "connected") return;
      const frame = this.assembler.push(data, this.session);
      if (frame) this.emit("frame", frame);
      return;
    }
    if (data[0] !== 0x7b) return; // the daemon answers a browser in JSON only
    const parsed = this.parse(data);
    if (parsed === null) return;
    const { message, body, tag } = parsed;
    switch (message.type) {
      case "retry": return this.onRetry(message);
      case "welcome": return this.onWelcome(message, body, tag);
      case "error":
        if (this.state === "connecting" || message.session === 0 || message.code === "unknown_session") {
          this.emit("error", { code: message.code, message: message.message, fatal: true });
          return this.close(message.code);
        }
        break;
      default:
        break;
    }
    if (this.state !== "connected" || message.session !== this.session) return;
    if (this.key && (tag === null || !equalBytes(hmacSha256(this.key, body).subarray(0, TAG_BYTES), tag))) return;
    this.onSessionMessage(message);
  }

  parse(data) {
    // A JSON body ends at its closing brace; with a token, a 16-byte tag follows it (SPEC §2).
    for (const bodyLength of [data.length, data.length - TAG_BYTES]) {
      if (bodyLength <= 0) continue;
      try {
        const body = data.subarray(0, bodyLength);
        const message = JSON.parse(decoder.decode(body));
        return { message, body, tag: bodyLength < data.length ? data.subarray(bodyLength) : null };
      } catch {
        // not this split; try the tagged one
      }
    }
    return null;
  }

  onRetry(retry) {
    if (this.state !== "connecting") return;
    let authTag = null;
    if (retry.token_required) {
      if (!this.token) {
        this.emit("error", { code: "auth_required", message: "the daemon requires a token; none was given", fatal: true });
        return this.close("auth_required");
      }
      authTag = hmacSha256(encoder.encode(this.token),
                           concat(encoder.encode("yume-bridge/1 hello"), this.nonce, base64.decode(retry.cookie)))
        .subarray(0, TAG_BYTES);
    }
    this.sendHello(base64.decode(retry.cookie), authTag);
  }

  onWelcome(welcome, body, tag) {
    if (this.state !== "connecting") return;
    if (welcome.authenticated) {
      if (!this.token) return;
      const label = encoder.encode("yume-bridge/1 session");
      const key = hmacSha256(encoder.encode(this.token),
                             concat(label, this.nonce, base64.decode(welcome.nonce), u32le(welcome.session)));
      if (tag === null || !equalBytes(hmacSha256(key, body).subarray(0, TAG_BYTES), tag)) return;
      this.key = key;
    } else if (this.token) {
      this.emit("error", { code: "auth_required", message: "the daemon did not authenticate this session although a token was given", fatal: true });
      return this.close("auth_required");
    }
    this.welcome = welcome;
    this.session = welcome.session;
    this.seq = 0;
    this.state = "connected";
    this.emit("welcome", welcome);
  }

  onSessionMessage(message) {
    switch (message.type) {
      case "status": return this.emit("status", message);
      case "started": return this.emit("started", message);
      case "event_ack": return this.emit("event-ack", message);
      case "upload_ack": return this.onUploadAck(message);
      case "pong": {
        const sent = Math.min(...this.pings.values());
        this.pings.clear();
        if (Number.isFinite(sent)) this.emit("pong", { rttMs: performance.now() - sent });
        return undefined;
      }
      case "error":
        if (this.upload && ["upload_too_large", "upload_mismatch", "bad_image"].includes(message.code)) {
          this.upload.reject(new Error(message.message));
          this.upload = null;
        }
        this.emit("error", { code: message.code, message: message.message, fatal: message.fatal });
        if (message.fatal) this.close(message.code);
        return undefined;
      case "bye": return this.finish(message.reason || "bye");
      default: return undefined;
    }
  }

  onUploadAck(ack) {
    const upload = this.upload;
    if (!upload || !equalBytes(base64.decode(ack.hash), upload.digest)) return;
    upload.unacked.delete(ack.offset);
    this.emit("upload-progress", { received: ack.received, size: upload.bytes.length });
    if (ack.complete) {
      this.upload = null;
      upload.resolve(upload.digest);
    } else {
      this.pumpUpload();
    }
  }
}
