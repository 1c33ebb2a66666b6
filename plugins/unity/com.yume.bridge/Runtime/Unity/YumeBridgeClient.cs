// The Yume Bridge component: connects to a yume_bridge daemon, streams its frames into a Texture2D (and
// optionally a RenderTexture), sends the player's input and event prompts. Name resolution, networking and
// JPEG decoding run on background threads; the main thread uploads at most one texture per rendered frame,
// frames in order (skipping to the newest when the game falls behind the stream), without allocating.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using UnityEngine;
using Yume.Bridge.Core;
using Debug = UnityEngine.Debug;

namespace Yume.Bridge
{
    [AddComponentMenu("Yume Bridge/Yume Bridge Client")]
    [DisallowMultipleComponent]
    public sealed partial class YumeBridgeClient : MonoBehaviour
    {
        const string LogPrefix = "[Yume Bridge] ";

        [Header("Daemon")]
        [Tooltip("Address of the machine running `yume-bridge serve` (127.0.0.1 for this machine).")]
        [SerializeField] string host = "127.0.0.1";
        [Tooltip("The daemon's UDP port (`--port`, 47800 by default).")]
        [SerializeField] int port = 47800;
        [Tooltip("Shared token: required when the daemon listens beyond loopback. It prints it when it first starts.")]
        [SerializeField] string token = "";
        [Tooltip("Wire encoding of control messages. MessagePack is smaller; JSON is readable in a packet capture.")]
        [SerializeField] YumeEncoding encoding = YumeEncoding.MessagePack;
        [Tooltip("Connect when this component is enabled (in Play mode).")]
        [SerializeField] bool connectOnEnable = true;
        [Tooltip("Reconnect after the daemon went away or the network dropped, waiting 1, 2, 4 … up to 30 s between tries. " +
                 "A wrong token or another protocol version is not retried.")]
        [SerializeField] bool autoReconnect = true;

        [Header("Stream")]
        [Tooltip("Wanted frame size; the daemon may choose another (the welcome says which).")]
        [SerializeField] YumeResolution resolution = YumeResolution.DaemonDefault;
        [Tooltip("Wanted playback rate; 0 leaves it to the daemon.")]
        [SerializeField, Range(0, 240)] float fps = 0;
        [Tooltip("JPEG quality of the frames, 1–100.")]
        [SerializeField, Range(1, 100)] int jpegQuality = 85;

        [Header("Start")]
        [Tooltip("What the world starts from once connected.")]
        [SerializeField] YumeStartSource startSource = YumeStartSource.DaemonDefault;
        [Tooltip("Start image (any readable or GPU texture; it is encoded as JPEG and uploaded).")]
        [SerializeField] Texture2D startImage;
        [Tooltip("Scene description; required for a text start, optional otherwise.")]
        [SerializeField, TextArea(2, 5)] string startPrompt = "";
        [Tooltip("Start as soon as the session opens.")]
        [SerializeField] bool startOnConnect = true;
        [Tooltip("World seed; -1 picks one at random. Same seed and same inputs give the same world.")]
        [SerializeField] long seed = -1;

        [Header("Input")]
        [SerializeField] YumeInputSettings input = new YumeInputSettings();

        [Header("Output")]
        [Tooltip("Decode JPEG frames on a background thread (recommended). Off: Texture2D.LoadImage on the main thread.")]
        [SerializeField] bool decodeOffMainThread = true;
        [Tooltip("Optional: a RenderTexture the stream is copied into every frame (for materials, UI or cameras that " +
                 "take a RenderTexture, as Render Streaming does).")]
        [SerializeField] RenderTexture targetRenderTexture;
        [Tooltip("Optional: a material that shows the stream.")]
        [SerializeField] Material targetMaterial;
        [Tooltip("Empty: the shader's main texture ([MainTexture]: _BaseMap under URP/HDRP, _MainTex built in). " +
                 "Otherwise the name of another texture property.")]
        [SerializeField] string targetTextureProperty = "";
        [SerializeField] FilterMode filterMode = FilterMode.Bilinear;

        [Header("Events")]
        [SerializeField] YumeConnectedEvent onConnected = new YumeConnectedEvent();
        [SerializeField] YumeFrameEvent onFrame = new YumeFrameEvent();
        [SerializeField] YumeStatusEvent onStatus = new YumeStatusEvent();
        [SerializeField] YumeErrorEvent onError = new YumeErrorEvent();
        [SerializeField] YumeEventAckEvent onEventAcknowledged = new YumeEventAckEvent();
        [SerializeField] YumeDisconnectedEvent onDisconnected = new YumeDisconnectedEvent();

        /// <summary>Main-thread decodes of refused (non-baseline) frames per second, at most.</summary>
        const float FallbackDecodesPerSecond = 4;

        BridgeConnection connection;
        FrameDecodeWorker decodeWorker;
        readonly ReconnectPolicy reconnect = new ReconnectPolicy();
        float? reconnectAt;
        float lastFallbackDecodeAt = float.NegativeInfinity;
        bool fallbackWarned;
        readonly YumeInputSampler sampler = new YumeInputSampler();
        readonly Dictionary<uint, PendingEventCallback> eventCallbacks = new Dictionary<uint, PendingEventCallback>();
        readonly YumeStatus status = new YumeStatus();
        readonly Stopwatch uploadClock = new Stopwatch();
        Texture2D output;
        WelcomeMessage welcome;
        int lastUploadFrame = -1;
        float shownWindowStart;
        int shownInWindow;
        bool inputSourceWarned, missingAxisWarned;
        InputState lastSentInput;
        string lastProblem = "";

        struct PendingEventCallback
        {
            public string Text;
            public Action<YumeEventResult> Callback;
        }

        // ---- public surface -------------------------------------------------------------------

        public YumeConnectedEvent OnConnected => onConnected;
        public YumeFrameEvent OnFrame => onFrame;
        public YumeStatusEvent OnStatus => onStatus;
        public YumeErrorEvent OnError => onError;
        public YumeEventAckEvent OnEventAcknowledged => onEventAcknowledged;
        public YumeDisconnectedEvent OnDisconnected => onDisconnected;

        /// <summary>The texture frames are written to (RGBA32, the welcome's size); null before the first frame.</summary>
        public Texture2D OutputTexture => output;

        /// <summary>A RenderTexture that receives a copy of every frame (optional; assign before or during play).</summary>
        public RenderTexture TargetRenderTexture { get => targetRenderTexture; set => targetRenderTexture = value; }

        /// <summary>A material whose main texture (or <see cref="TargetTextureProperty"/>) shows the stream.</summary>
        public Material TargetMaterial { get => targetMaterial; set => targetMaterial = value; }
        public string TargetTextureProperty { get => targetTextureProperty; set => targetTextureProperty = value; }

        /// <summary>Reconnect with backoff after a connection was lost (not after Disconnect(), a wrong token or a version mismatch).</summary>
        public bool AutoReconnect { get => autoReconnect; set => autoReconnect = value; }

        /// <summary>Seconds until the next automatic reconnect, or null when none is scheduled.</summary>
        public float? ReconnectIn => reconnectAt.HasValue ? Mathf.Max(0, reconnectAt.Value - Time.unscaledTime) : (float?)null;

        public bool IsConnected => connection != null && connection.State == ClientSessionState.Open;

        /// <summary>
        /// The last problem as a sentence that says what to do (daemon unreachable, wrong token, other protocol version,
        /// session limit, ...); empty once a session opens.
        /// </summary>
        public string LastProblem => lastProblem;

        /// <summary>Idle, Handshaking, Open or Closed.</summary>
        public ClientSessionState State => connection?.State ?? ClientSessionState.Idle;

        /// <summary>The last status (a copy); readiness, latency breakdown and client measurements.</summary>
        public YumeStatus Status => status.Clone();

        /// <summary>The live status object (no copy; read it, do not keep or change it). For per-frame displays.</summary>
        internal YumeStatus LiveStatus => status;

        public YumeSessionInfo Session => welcome == null ? null : YumeSessionInfo.From(welcome, Endpoint);
        public string Endpoint => $"{host}:{port}";

        public string Host { get => host; set => host = value; }
        public int Port { get => port; set => port = value; }
        public string Token { get => token; set => token = value; }
        public YumeInputSettings InputSettings => input;
        public YumeStartSource StartSource { get => startSource; set => startSource = value; }
        public string StartPrompt { get => startPrompt; set => startPrompt = value; }
        public Texture2D StartImage { get => startImage; set => startImage = value; }

        /// <summary>
        /// Opens a session (closing any previous one). Returns at once: the host name is resolved on the network
        /// thread, and failures arrive as OnError/OnDisconnected. Requests made before the welcome wait for it.
        /// Safe to call from OnError or OnDisconnected.
        /// </summary>
        public void Connect()
        {
            Disconnect();
            if (connection != null) return; // a listener of the close above has connected already
            reconnectAt = null;
            if (string.IsNullOrEmpty(host) || port < 1 || port > 65535)
            {
                Fail(ErrorCodes.DaemonUnreachable, $"Set a host and a port (1–65535) on {name}; now {Endpoint}.");
                return;
            }
            status.readiness = "connecting";
            connection = new BridgeConnection(host.Trim(), port, BuildOptions());
            connection.Start();
            if (decodeOffMainThread) decodeWorker = new FrameDecodeWorker(connection, bottomUp: true, layout: PixelLayout.Rgba32);
            if (startOnConnect) StartConfigured();
        }

        /// <summary>
        /// Sends bye and stops the background threads; cancels any scheduled reconnect. The output texture keeps
        /// its last frame. OnDisconnected fires after the connection is gone, so a listener may connect anew.
        /// </summary>
        public void Disconnect()
        {
            reconnectAt = null;
            var closing = connection;
            if (closing == null) return;
            closing.Stop();
            DrainEvents(closing); // reports the close (OnDisconnected) after tearing down
            if (connection == closing) TearDown(); // no close event came (already reported)
            if (connection == null) reconnectAt = null; // an earlier loss queued with the close must not bring it back
        }

        void ScheduleReconnect(SessionClosed closed)
        {
            if (!autoReconnect || !isActiveAndEnabled || !Application.isPlaying) return;
            var delay = reconnect.NextDelay(closed);
            if (!delay.HasValue) return;
            reconnectAt = Time.unscaledTime + (float)delay.Value;
            Debug.Log(LogPrefix + $"Reconnecting to {Endpoint} in {delay.Value:0.#} s (attempt {reconnect.Attempts}).", this);
        }

        /// <summary>Encodes the texture as JPEG (on this thread), uploads it and starts a world from it.</summary>
        public void StartFromTexture(Texture2D texture, string prompt = "")
        {
            if (!RequireConnection("start")) return;
            if (texture == null)
            {
                Fail(ErrorCodes.BadImage, "StartFromTexture was given no texture.");
                return;
            }
            byte[] jpeg;
            try
            {
                jpeg = YumeTextureEncoding.EncodeJpeg(texture, 95);
            }
            catch (Exception e)
            {
                Fail(ErrorCodes.BadImage, $"Cannot encode {texture.name} as JPEG: {e.Message}");
                return;
            }
            connection.StartFromImageFile(jpeg, prompt ?? "", Seed);
        }

        /// <summary>Starts a world from a text prompt alone.</summary>
        public void StartFromPrompt(string prompt)
        {
            if (!RequireConnection("start")) return;
            if (string.IsNullOrEmpty(prompt))
            {
                Fail(ErrorCodes.BadMessage, "StartFromPrompt needs a prompt.");
                return;
            }
            connection.StartFromText(prompt, Seed);
        }

        /// <summary>Starts from the daemon's configured start image (else its built-in scene).</summary>
        public void StartDefault(string prompt = "")
        {
            if (RequireConnection("start")) connection.StartDefault(prompt ?? "", Seed);
        }

        /// <summary>
        /// Sends an event prompt ("a dragon circles the tower"). It is retransmitted until the daemon
        /// acknowledges it; <paramref name="acknowledged"/> is then called on the main thread. Returns its id (0 on failure).
        /// </summary>
        public int SendEvent(string text, Action<YumeEventResult> acknowledged = null)
        {
            if (!RequireConnection("send an event")) return 0;
            if (string.IsNullOrEmpty(text))
            {
                Fail(ErrorCodes.BadMessage, "SendEvent needs text; use ClearEvent to remove an event.");
                return 0;
            }
            uint id = connection.SendEvent(text);
            eventCallbacks[id] = new PendingEventCallback { Text = text, Callback = acknowledged };
            return (int)id;
        }

        /// <summary>Removes an active event prompt.</summary>
        public void ClearEvent(int id)
        {
            if (RequireConnection("clear an event") && id > 0) connection.ClearEvent((uint)id);
        }

        /// <summary>Pauses or resumes generation (no frames while paused).</summary>
        public void SetPaused(bool paused)
        {
            if (RequireConnection("pause")) connection.Configure(paused: paused);
        }

        /// <summary>Sets the input when the input source is None (your own controls). Axes in [-1, 1]; keys as W3C codes.</summary>
        public void SetInput(Vector2 move, Vector2 look, params string[] heldKeys)
        {
            connection?.SetInput(new InputState(move.x, move.y, look.x, look.y, heldKeys));
        }

        // ---- Unity messages -------------------------------------------------------------------

        /// <summary>A new component (or Reset in its menu) starts from the project's defaults.</summary>
        void Reset()
        {
            var defaults = YumeBridgeSettings.Current;
            host = defaults.host;
            port = defaults.port;
            encoding = defaults.encoding;
            resolution = defaults.resolution;
            jpegQuality = defaults.jpegQuality;
            autoReconnect = defaults.autoReconnect;
        }

        void OnEnable()
        {
            if (connectOnEnable && Application.isPlaying) Connect();
        }

        void OnDisable()
        {
            Disconnect();
            reconnectAt = null;
        }

        void OnApplicationQuit() => Disconnect();

        void OnDestroy()
        {
            Disconnect();
            if (output != null) Destroy(output);
        }

        void Update()
        {
            if (connection == null)
            {
                if (reconnectAt.HasValue && Time.unscaledTime >= reconnectAt.Value)
                {
                    reconnectAt = null;
                    Connect();
                }
                return;
            }
            DrainEvents(connection);
            if (connection == null) return;
            SampleInput();
            UploadNextFrame();
        }

        // ---- internals ------------------------------------------------------------------------

        ClientOptions BuildOptions()
        {
            int width = 0, height = 0;
            if (resolution == YumeResolution.W960H544)
            {
                width = 960;
                height = 544;
            }
            else if (resolution == YumeResolution.W1280H704)
            {
                width = 1280;
                height = 704;
            }
            string effectiveToken = string.IsNullOrEmpty(token) ? YumeBridgeSettings.TokenFromEnvironment() : token.Trim();
            return new ClientOptions(
                token: effectiveToken,
                encoding: encoding == YumeEncoding.Json ? WireEncoding.Json : WireEncoding.MsgPack,
                engine: "Unity " + Application.unityVersion,
                width: width, height: height, fps: fps <= 0 ? 0 : Mathf.Clamp(fps, 1, 240), quality: Mathf.Clamp(jpegQuality, 1, 100));
        }

        uint? Seed => seed < 0 || seed > uint.MaxValue ? (uint?)null : (uint)seed;

        void StartConfigured()
        {
            switch (startSource)
            {
                case YumeStartSource.Texture:
                    if (startImage != null) StartFromTexture(startImage, startPrompt);
                    else
                    {
                        Debug.LogWarning(LogPrefix + "Start Source is Texture but no Start Image is set; starting from the daemon's default.", this);
                        StartDefault(startPrompt);
                    }
                    break;
                case YumeStartSource.Prompt:
                    if (!string.IsNullOrEmpty(startPrompt)) StartFromPrompt(startPrompt);
                    else
                    {
                        Debug.LogWarning(LogPrefix + "Start Source is Prompt but the Start Prompt is empty; starting from the daemon's default.", this);
                        StartDefault();
                    }
                    break;
                default:
                    StartDefault(startPrompt);
                    break;
            }
        }

        bool RequireConnection(string what)
        {
            if (connection != null && connection.State != ClientSessionState.Closed) return true;
            Fail(ErrorCodes.UnknownSession, $"Cannot {what}: not connected. Call Connect() first.");
            return false;
        }

        void Fail(string code, string message)
        {
            lastProblem = message;
            Debug.LogError(LogPrefix + message, this);
            onError.Invoke(code, message);
        }

        void SampleInput()
        {
            if (input.source == YumeInputSource.None) return;
            if (!YumeInputSampler.IsAvailable(input.source))
            {
                if (!inputSourceWarned)
                    Debug.LogWarning(LogPrefix + $"Input source {input.source} is not available in this project (check the Input System " +
                                     "package and Player Settings › Active Input Handling). No input is sent.", this);
                inputSourceWarned = true;
                return;
            }
            var state = sampler.Sample(input, Time.unscaledDeltaTime);
            if (state != null && state != lastSentInput) connection.SetInput(state); // unchanged input: no call, no garbage
            lastSentInput = state;
            if (sampler.MissingAxis != null && !missingAxisWarned)
            {
                Debug.LogWarning(LogPrefix + $"The Input Manager has no axis named \"{sampler.MissingAxis}\" (Project Settings › Input Manager); " +
                                 "it reads as 0. Fix the axis names under Input on this component.", this);
                missingAxisWarned = true;
            }
        }
    }
}
