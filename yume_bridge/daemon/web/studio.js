// The studio page: one session over the daemon's WebSocket, frames on a canvas (newest frame wins),
// keyboard/mouse/gamepad input, event prompts, status, recording. Automation: window.yumeStudio.

import { Controls } from "./controls.js";
import { StudioConnection } from "./protocol.js";

const INPUT_HZ = 30;
const INPUT_REFRESH_MS = 250; // an unchanged input is still re-sent this often (SPEC: at least every 500 ms)
const LATENCY_WINDOW = 60;
const $ = (id) => document.getElementById(id);

const PLAIN_ERRORS = {
  auth_required: "This daemon needs its token. Paste the token it printed when it started.",
  auth_failed: "That token is wrong. Paste the token the daemon printed when it started.",
  session_limit: "The daemon is serving as many sessions as it allows. Close another client, or try again later.",
  unsupported_version: "This daemon speaks another protocol version than this page.",
  text_too_long: "That text is too long for the daemon.",
  too_many_events: "Too many event prompts are active; clear one first.",
  upload_too_large: "That image is larger than the daemon accepts.",
  upload_mismatch: "The image arrived damaged; try again.",
  bad_image: "That file is not a JPEG or PNG the daemon can read (or it has too many pixels).",
  unknown_image: "The daemon no longer holds that image; start again to upload it.",
  generator_failed: "The world model failed on a chunk; the session goes on.",
  shutting_down: "The daemon is shutting down.",
  unknown_session: "The daemon restarted and forgot this session; reconnecting.",
};

// --- the automation interface: stable names (README "Browser studio") ---------------------------

const studio = {
  state: "connecting",
  framesReceived: 0,
  action: { id: 0, name: "None" },
  eventsAcked: [],
  lastError: null,
  start: (options = {}) => startWorld(options),
  sendEvent: (text) => sendEvent(text),
};
window.yumeStudio = studio;

// --- page state -------------------------------------------------------------------------------------

const canvas = $("view");
const context = canvas.getContext("2d", { alpha: false });
const controls = new Controls({ surface: canvas });
let connection = null;
let welcome = null;
let token = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("yume-token");
let chosenImage = null; // {bytes, name}
let nextEventId = 1;
let lastInput = { key: "", at: 0 };
const inputSentAt = new Map();
const latencies = [];
let reflectedUpTo = 0;
const shownTimes = [];
let pendingFrame = null;
let decoding = false;
let drawnFrame = -1;
let reconnectDelay = 500;

// --- connection -------------------------------------------------------------------------------------

function connect() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  connection = new StudioConnection({ url, token });
  const on = (name, handler) => connection.addEventListener(name, (e) => handler(e.detail));
  on("welcome", onWelcome);
  on("status", onStatus);
  on("started", () => setNote("World started; click the picture to look around."));
  on("event-ack", onEventAck);
  on("upload-progress", ({ received, size }) => setMeter("upload-meter", received / size));
  on("frame", onFrame);
  on("pong", ({ rttMs }) => { $("fig-rtt").textContent = `${rttMs.toFixed(1)} ms`; });
  on("error", onError);
  on("closed", onClosed);
  setState("connecting");
  setConnection("connecting", "wait");
  connection.open();
}

function onWelcome(w) {
  welcome = w;
  reconnectDelay = 500;
  canvas.width = w.width;
  canvas.height = w.height;
  $("model").textContent = `${w.backend === "preview" ? "preview world" : w.model} · ${w.width}×${w.height} · ${w.fps} fps`
    + (w.authenticated ? " · authenticated" : "");
  setConnection("connected", "ok");
  $("start").disabled = false;
  $("event-send").disabled = false;
  $("record").disabled = false;
  setState(w.state);
  hideError();
}

function onClosed({ reason }) {
  welcome = null;
  $("start").disabled = true;
  $("event-send").disabled = true;
  const userEnded = reason === "client";
  setState("closed");
  if (["auth_required", "auth_failed"].includes(reason)) {
    setConnection("token needed", "wait");
    $("model").textContent = "this daemon needs its token: paste it in the panel";
    $("token-row").hidden = false; // a new token reconnects (see the token field)
    $("token").focus();
    return;
  }
  setConnection(userEnded ? "closed" : "reconnecting", "bad");
  if (userEnded || reason === "unsupported_version") return;
  if (reason !== "session_limit") setNote(`Disconnected (${reason}). Reconnecting… press Start again once connected.`);
  setTimeout(connect, reconnectDelay);
  reconnectDelay = Math.min(reconnectDelay * 2, 8000);
}

function onError({ code, message, fatal }) {
  studio.lastError = { code, message };
  showError(PLAIN_ERRORS[code] || message, code, message);
  if (fatal) setState("error");
}

// --- starting a world -------------------------------------------------------------------------------

/** The automation call: none of the two = the daemon's default start. */
async function startWorld({ prompt = "", imageUrl = null } = {}) {
  let image = null;
  if (imageUrl) {
    const response = await fetch(imageUrl);
    if (!response.ok) throw new Error(`cannot fetch ${imageUrl}: ${response.status}`);
    image = new Uint8Array(await response.arrayBuffer());
  }
  return beginWorld({ image, prompt });
}

async function beginWorld({ image, prompt }) {
  if (!connection || connection.state !== "connected") throw new Error("not connected to the daemon yet");
  const text = String(prompt || "").trim();
  let digest = null;
  if (image) {
    setNote("Uploading the image…");
    setMeter("upload-meter", 0);
    $("upload-meter").hidden = false;
    try {
      digest = await connection.uploadImage(image);
    } finally {
      $("upload-meter").hidden = true;
    }
  }
  const source = digest ? "image" : text ? "text" : "default";
  connection.start({ source, image: digest, prompt: text });
  resetStream();
  canvas.focus(); // the keys walk now, not type
  setNote(source === "image" ? "Starting from the image…" : source === "text" ? "Drawing the scene…"
    : "Starting the daemon's default world…");
  return source;
}

function resetStream() {
  inputSentAt.clear();
  reflectedUpTo = 0;
  drawnFrame = -1;
}

function chooseImage(file) {
  if (!file) return;
  if (!["image/jpeg", "image/png"].includes(file.type)) {
    showError("Choose a JPEG or PNG image.", "bad_image");
    return;
  }
  file.arrayBuffer().then((buffer) => {
    chosenImage = { bytes: new Uint8Array(buffer), name: file.name };
    const thumb = $("thumb");
    thumb.src = URL.createObjectURL(file);
    thumb.hidden = false;
    $("drop-text").hidden = true;
    setNote(`Start from ${file.name} (${Math.round(buffer.byteLength / 1024)} KiB).`);
  });
}

// --- frames: newest wins, decoded off the main thread ------------------------------------------------

function onFrame(frame) {
  studio.framesReceived += 1;
  if (frame.inputSeq > reflectedUpTo) {
    const now = performance.now();
    for (const [seq, at] of inputSentAt) {
      if (seq <= frame.inputSeq) {
        latencies.push(now - at);
        inputSentAt.delete(seq);
      }
    }
    latencies.splice(0, Math.max(0, latencies.length - LATENCY_WINDOW));
    reflectedUpTo = frame.inputSeq;
  }
  pendingFrame = frame; // an older frame still waiting is dropped: the newest wins
  if (!decoding) decodeNext();
}

async function decodeNext() {
  decoding = true;
  while (pendingFrame) {
    const frame = pendingFrame;
    pendingFrame = null;
    try {
      const bitmap = await createImageBitmap(frame.jpeg);
      if (frame.frame > drawnFrame) {
        context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        drawnFrame = frame.frame;
        shown(frame);
      }
      bitmap.close();
    } catch (error) {
      studio.lastError = { code: "bad_frame", message: String(error) };
    }
  }
  decoding = false;
}

function shown(frame) {
  const now = performance.now();
  shownTimes.push(now);
  while (shownTimes.length && now - shownTimes[0] > 1000) shownTimes.shift();
  if (!$("placeholder").hidden) {
    $("placeholder").hidden = true;
    setTimeout(() => $("hint").classList.add("faded"), 6000); // the picture needs the room
  }
  const name = actionName(frame.action);
  studio.action = { id: frame.action, name };
  $("hud-action").textContent = name;
  $("fig-action").textContent = `${name} (id ${frame.action})`;
  $("fig-frames").textContent = String(studio.framesReceived);
  $("fig-chunk").textContent = `${frame.chunk} · frame ${frame.frameInChunk + 1}/${welcome ? welcome.frames_per_chunk : "?"}`;
}

function actionName(id) {
  if (!welcome) return String(id);
  const movement = welcome.vocabulary.movement[Math.floor(id / 9)] ?? "?";
  const look = welcome.vocabulary.look[id % 9] ?? "?";
  if (look === "\u00b7") return movement;
  return movement === "None" ? look : `${movement} ${look}`;
}

// --- input --------------------------------------------------------------------------------------------

function inputTick() {
  if (!connection || connection.state !== "connected") return;
  const sample = controls.sample();
  const key = JSON.stringify([sample.move, sample.look, sample.keys]);
  const now = performance.now();
  if (key === lastInput.key && now - lastInput.at < INPUT_REFRESH_MS) return;
  const seq = connection.sendInput(sample);
  if (key !== lastInput.key) inputSentAt.set(seq, now); // latency counts from a change of input
  lastInput = { key, at: now };
  const pressing = [...sample.keys.map((k) => k.replace(/^Key|^Arrow/, "")),
    ...(sample.look.some(Boolean) ? [`look ${sample.look.map((v) => v.toFixed(1)).join(",")}`] : []),
    ...(sample.source === "gamepad" ? [`stick ${sample.move.map((v) => v.toFixed(1)).join(",")}`] : [])];
  $("fig-input").textContent = pressing.join(" + ") || "nothing";
}

// --- events -------------------------------------------------------------------------------------------

function sendEvent(text) {
  const words = String(text).trim();
  if (!words) throw new Error("an event prompt needs some text");
  if (!connection || connection.state !== "connected") throw new Error("not connected to the daemon yet");
  const id = nextEventId++;
  connection.sendEvent(id, words);
  const item = document.createElement("li");
  item.dataset.id = String(id);
  item.innerHTML = '<span class="text"></span><span class="ack">sent…</span>';
  item.querySelector(".text").textContent = words;
  $("events").prepend(item);
  return id;
}

function onEventAck(ack) {
  if (!studio.eventsAcked.includes(ack.id)) studio.eventsAcked.push(ack.id);
  const item = $("events").querySelector(`li[data-id="${ack.id}"]`);
  if (item) {
    item.querySelector(".ack").textContent = `applies from chunk ${ack.chunk}`;
    item.classList.add("acked");
  }
}

// --- status ---------------------------------------------------------------------------------------------

const LATENCY_PARTS = [["queue_ms", "queue"], ["generate_ms", "generate"], ["encode_ms", "encode"], ["send_ms", "pacing"]];

function onStatus(status) {
  setState(status.state);
  const order = ["loading", "warming", "ready"];
  const at = ["generating", "paused", "ready"].includes(status.state) ? 2 : order.indexOf(status.state);
  document.querySelectorAll("#steps li").forEach((li, i) => {
    li.dataset.done = String(i < at || (i === at && at === 2));
    li.dataset.current = String(i === at);
  });
  setMeter("readiness-meter", status.progress);
  $("status-message").textContent = status.message || "";
  const shownFps = shownTimes.length;
  $("fig-fps").textContent = `${shownFps} / ${status.fps.toFixed(0)}`;
  $("hud-fps").textContent = `${shownFps} fps`;
  const sorted = [...latencies].sort((a, b) => a - b);
  if (sorted.length) {
    const median = sorted[Math.floor(sorted.length / 2)];
    $("fig-latency").textContent = `${(median / 1000).toFixed(2)} s median of ${sorted.length}`;
  }
  drawBreakdown(status.latency);
}

function drawBreakdown(latency) {
  const total = LATENCY_PARTS.reduce((sum, [field]) => sum + (latency[field] || 0), 0);
  const bars = $("breakdown").querySelector(".bars");
  const legend = $("breakdown").querySelector(".legend");
  bars.replaceChildren(...LATENCY_PARTS.map(([field], i) => {
    const bar = document.createElement("span");
    bar.className = `part p${i}`;
    bar.style.flexGrow = String(total ? (latency[field] || 0) / total : 0.25);
    return bar;
  }));
  legend.replaceChildren(...LATENCY_PARTS.map(([field, label], i) => {
    const item = document.createElement("li");
    item.className = `p${i}`;
    item.textContent = `${label} ${Math.round(latency[field] || 0)} ms`;
    return item;
  }));
}

function setState(state) {
  studio.state = state;
  const chip = $("hud-state");
  chip.textContent = state;
  chip.dataset.tone = { generating: "ok", ready: "ok", paused: "wait", loading: "wait", warming: "wait",
                        connecting: "wait" }[state] || "bad";
}

function setConnection(text, tone) {
  const pill = $("connection");
  pill.textContent = text;
  pill.dataset.tone = tone;
}

function setMeter(id, share) {
  $(id).firstElementChild.style.width = `${Math.round(Math.max(0, Math.min(1, share)) * 100)}%`;
}

function setNote(text) {
  $("start-note").textContent = text;
}

function showError(text, code, detail = "") {
  const toast = $("error");
  toast.textContent = text;
  toast.title = detail ? `${code}: ${detail}` : code;
  toast.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(hideError, 8000);
}

function hideError() {
  $("error").hidden = true;
}

// --- recording and full screen ---------------------------------------------------------------------------

let recorder = null;

function toggleRecording() {
  if (recorder) {
    recorder.stop();
    return;
  }
  if (typeof MediaRecorder === "undefined") {
    showError("This browser cannot record (no MediaRecorder).", "record");
    return;
  }
  const type = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"].find((t) => MediaRecorder.isTypeSupported(t));
  const chunks = [];
  const started = performance.now();
  recorder = new MediaRecorder(canvas.captureStream(welcome ? welcome.fps : 16), type ? { mimeType: type } : {});
  recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
  recorder.onstop = () => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob(chunks, { type: "video/webm" }));
    link.download = `yume-studio-${new Date().toISOString().replace(/[:.]/g, "-")}.webm`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    recorder = null;
    clearInterval(toggleRecording.clock);
    $("hud-rec").hidden = true;
    $("record").textContent = "● Record";
  };
  recorder.start(1000);
  $("hud-rec").hidden = false;
  $("record").textContent = "■ Stop and save";
  toggleRecording.clock = setInterval(() => {
    const seconds = Math.floor((performance.now() - started) / 1000);
    $("hud-rec").textContent = `● REC ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  }, 500);
}

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen();
  else $("stage").requestFullscreen().catch((e) => showError(`Full screen refused: ${e.message}`, "fullscreen"));
}

// --- wiring ---------------------------------------------------------------------------------------------

$("image-input").addEventListener("change", (e) => chooseImage(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  chooseImage(e.dataTransfer.files[0]);
});
$("clear-start").addEventListener("click", () => {
  chosenImage = null;
  $("image-input").value = "";
  $("thumb").hidden = true;
  $("drop-text").hidden = false;
  $("prompt").value = "";
  setNote("No image or prompt: the daemon's default start.");
});
$("start").addEventListener("click", () => beginWorld({ image: chosenImage && chosenImage.bytes, prompt: $("prompt").value })
  .catch((e) => showError(e.message, "start")));
$("event-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const field = $("event-text");
  if (!field.value.trim()) return;
  try {
    sendEvent(field.value);
    field.value = "";
  } catch (error) {
    showError(error.message, "event");
  }
});
$("token").addEventListener("change", (e) => {
  token = e.target.value.trim();
  sessionStorage.setItem("yume-token", token);
  if (connection) connection.close("client");
  connect();
});
$("record").addEventListener("click", toggleRecording);
$("fullscreen").addEventListener("click", toggleFullscreen);
document.addEventListener("pointerlockchange", () => {
  $("hint").classList.remove("faded");
  clearTimeout(toggleFullscreen.hintTimer);
  toggleFullscreen.hintTimer = setTimeout(() => $("hint").classList.add("faded"), 4000);
  $("hint").textContent = controls.pointerLocked ? "Mouse look on · Esc releases the mouse"
    : "Click the picture to look with the mouse · WASD to walk · arrows or IJKL to look · Esc releases";
});
window.addEventListener("pagehide", () => connection && connection.close("client"));
setInterval(inputTick, 1000 / INPUT_HZ);
drawBreakdown({});
connect();
