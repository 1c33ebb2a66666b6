// The Yume Bridge component: connects to a yume_bridge daemon, streams its frames into a Texture2D,
// sends the player's input and event prompts. Networking and JPEG decoding run on background threads;
// the main thread uploads at most one texture per rendered frame, always the newest.
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
        [Tooltip("Optional: a material whose texture property receives the stream.")]
        [SerializeField] Material targetMaterial;
        [SerializeField] string targetTextureProperty = "_MainTex";
        [SerializeField] FilterMode filterMode = FilterMode.Bilinear;

        [Header("Events")]
        [SerializeField] YumeConnectedEvent onConnected = new YumeConnectedEvent();
        [SerializeField] YumeFrameEvent onFrame = new YumeFrameEvent();
        [SerializeField] YumeStatusEvent onStatus = new YumeStatusEvent();
        [SerializeField] YumeErrorEvent onError = new YumeErrorEvent();
        [SerializeField] YumeEventAckEvent onEventAcknowledged = new YumeEventAckEvent();
        [SerializeField] YumeDisconnectedEvent onDisconnected = new YumeDisconnectedEvent();

        BridgeConnection connection;
        FrameDecodeWorker decodeWorker;
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

        /// <summary>The texture frames are written to (RGB24, the welcome's size); null before the first frame.</summary>
        public Texture2D OutputTexture => output;

        public bool IsConnected => connection != null && connection.State == SessionState.Open;

        /// <summary>Idle, Handshaking, Open or Closed.</summary>
        public SessionState State => connection?.State ?? SessionState.Idle;

        /// <summary>The last status (a copy); readiness, latency breakdown and client measurements.</summary>
        public YumeStatus Status => status.Clone();

        public YumeSessionInfo Session => welcome == null ? null : YumeSessionInfo.From(welcome, Endpoint);
        public string Endpoint => $"{host}:{port}";

        public string Host { get => host; set => host = value; }
        public int Port { get => port; set => port = value; }
        public string Token { get => token; set => token = value; }
        public YumeInputSettings InputSettings => input;
        public YumeStartSource StartSource { get => startSource; set => startSource = value; }
        public string StartPrompt { get => startPrompt; set => startPrompt = value; }
        public Texture2D StartImage { get => startImage; set => startImage = value; }

        /// <summary>Opens a session (closing any previous one). Requests made before the welcome wait for it.</summary>
        public void Connect()
        {
            Disconnect();
            if (string.IsNullOrEmpty(host) || port < 1 || port > 65535)
            {
                Fail(ErrorCodes.DaemonUnreachable, $"Set a host and a port (1–65535) on {name}; now {Endpoint}.");
                return;
            }
            status.readiness = "connecting";
            try
            {
                connection = new BridgeConnection(host, port, BuildOptions());
                connection.Start();
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException || e is ArgumentException)
            {
                connection = null;
                Fail(ErrorCodes.DaemonUnreachable, $"Cannot reach {Endpoint}: {e.Message}");
                return;
            }
            if (decodeOffMainThread) decodeWorker = new FrameDecodeWorker(connection, bottomUp: true);
            if (startOnConnect) StartConfigured();
        }

        /// <summary>Sends bye and stops the background threads. The output texture keeps its last frame.</summary>
        public void Disconnect()
        {
            if (connection != null)
            {
                connection.Stop();
                DrainEvents(); // reports the close (OnDisconnected) and tears down
            }
            TearDown();
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

        void OnEnable()
        {
            if (connectOnEnable && Application.isPlaying) Connect();
        }

        void OnDisable() => Disconnect();

        void OnApplicationQuit() => Disconnect();

        void OnDestroy()
        {
            Disconnect();
            if (output != null) Destroy(output);
        }

        void Update()
        {
            if (connection == null) return;
            DrainEvents();
            if (connection == null) return;
            SampleInput();
            UploadNewestFrame();
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
            return new ClientOptions(
                token: string.IsNullOrEmpty(token) ? null : token.Trim(),
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
            if (connection != null && connection.State != SessionState.Closed) return true;
            Fail(ErrorCodes.UnknownSession, $"Cannot {what}: not connected. Call Connect() first.");
            return false;
        }

        void Fail(string code, string message)
        {
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
            if (state != null) connection.SetInput(state);
            if (sampler.MissingAxis != null && !missingAxisWarned)
            {
                Debug.LogWarning(LogPrefix + $"The Input Manager has no axis named \"{sampler.MissingAxis}\" (Project Settings › Input Manager); " +
                                 "it reads as 0. Fix the axis names under Input on this component.", this);
                missingAxisWarned = true;
            }
        }
    }
}
