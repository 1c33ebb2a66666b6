// Inspector enums, the status snapshot and the UnityEvent types of the Yume Bridge component.
using System;
using UnityEngine;
using UnityEngine.Events;
using Yume.Bridge.Core;

namespace Yume.Bridge
{
    public enum YumeInputSource
    {
        [Tooltip("Unity's Input System package (Keyboard, Mouse, Gamepad).")]
        InputSystem,
        [Tooltip("The legacy Input Manager (Input.GetAxis / Input.GetKey).")]
        LegacyInputManager,
        [Tooltip("No automatic input: call SetInput from your own code.")]
        None,
    }

    public enum YumeStartSource
    {
        [Tooltip("The daemon's configured start image, else its built-in scene.")]
        DaemonDefault,
        [Tooltip("Upload the Start Image texture and start from it.")]
        Texture,
        [Tooltip("Start from the Start Prompt text alone.")]
        Prompt,
    }

    public enum YumeEncoding { MessagePack, Json }

    public enum YumeResolution
    {
        [InspectorName("Daemon's choice")] DaemonDefault,
        [InspectorName("960 × 544")] W960H544,
        [InspectorName("1280 × 704")] W1280H704,
    }

    /// <summary>What the daemon said in its welcome, for OnConnected.</summary>
    [Serializable]
    public sealed class YumeSessionInfo
    {
        public string endpoint;
        public uint session;
        public string daemonVersion;
        public string backend;
        public string model;
        public int width;
        public int height;
        public float fps;
        public int framesPerChunk;
        public bool authenticated;
        public string readiness;

        internal static YumeSessionInfo From(WelcomeMessage w, string endpoint) => new YumeSessionInfo
        {
            endpoint = endpoint, session = w.Session, daemonVersion = w.DaemonVersion, backend = w.Backend,
            model = w.Model + " " + w.ModelVersion, width = w.Width, height = w.Height, fps = (float)w.Fps,
            framesPerChunk = w.FramesPerChunk, authenticated = w.Authenticated, readiness = w.State,
        };

        public override string ToString() =>
            $"{endpoint} session {session}: {backend} {model}, {width}×{height} @ {fps:0.#} fps, daemon {daemonVersion}" +
            (authenticated ? ", authenticated" : "");
    }

    /// <summary>Readiness and the latency breakdown, from the daemon's status and this client's own measurements.</summary>
    [Serializable]
    public sealed class YumeStatus
    {
        [Tooltip("loading, warming, ready, generating, paused or error")]
        public string readiness = "";
        [Range(0, 1)] public float progress;
        public long world;
        public long chunk;
        [Tooltip("Chunks waiting for the generator, all sessions.")]
        public long queue;
        [Tooltip("The action the model applied last, e.g. \"W ↑→\".")]
        public string action = "";
        public string message = "";

        [Header("Daemon latency of the last chunk (ms)")]
        public float queueMs;
        public float generateMs;
        public float encodeMs;
        public float sendMs;

        [Header("Client side")]
        [Tooltip("Round trip of ping/pong, smoothed.")]
        public float rttMs;
        [Tooltip("From sending an input to the first complete frame that used it.")]
        public float inputToFrameMs;
        public float daemonFps;
        [Tooltip("Textures updated per second on this client.")]
        public float shownFps;
        public float decodeMs;
        public float uploadMs;
        public long framesShown;
        public long nacksSent;
        [Tooltip("Frames Unity decoded on the main thread because the background decoder refused them (not baseline JPEG).")]
        public long fallbackDecodes;

        public YumeStatus Clone() => (YumeStatus)MemberwiseClone();

        public override string ToString() =>
            $"{readiness}{(readiness == "loading" || readiness == "warming" ? $" {progress:P0}" : "")} | world {world} chunk {chunk} | " +
            $"{action} | {shownFps:0.0} fps | queue {queueMs:0} + generate {generateMs:0} + encode {encodeMs:0.0} + send {sendMs:0.0} ms | " +
            $"rtt {rttMs:0.0} ms | input→frame {inputToFrameMs:0} ms | decode {decodeMs:0.0} + upload {uploadMs:0.0} ms";
    }

    /// <summary>The outcome of SendEvent, given to its callback.</summary>
    public struct YumeEventResult
    {
        public int id;
        public bool acknowledged;
        /// <summary>The first chunk the event applies to (when acknowledged).</summary>
        public long chunk;
        /// <summary>The protocol error code when not acknowledged.</summary>
        public string code;
        public string message;
    }

    [Serializable] public sealed class YumeConnectedEvent : UnityEvent<YumeSessionInfo> { }

    /// <summary>Carries the output texture; bind it to RawImage.texture or Material.mainTexture.</summary>
    [Serializable] public sealed class YumeFrameEvent : UnityEvent<Texture> { }

    [Serializable] public sealed class YumeStatusEvent : UnityEvent<YumeStatus> { }

    /// <summary>(code, reason): a protocol error code (bad_message, auth_failed, ...) or a client code (daemon_unreachable, ...).</summary>
    [Serializable] public sealed class YumeErrorEvent : UnityEvent<string, string> { }

    /// <summary>(id, text) of an acknowledged event prompt.</summary>
    [Serializable] public sealed class YumeEventAckEvent : UnityEvent<int, string> { }

    /// <summary>(reason code, sentence) when the session ends.</summary>
    [Serializable] public sealed class YumeDisconnectedEvent : UnityEvent<string, string> { }
}
