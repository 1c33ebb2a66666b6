// Runs one real handshake (hello, retry, welcome, bye) from the editor, without Play mode, and says what happened.
// Name resolution runs on the connection's thread (the editor never freezes on DNS), and a domain reload
// (a script recompile) closes the socket first instead of leaking it.
using System;
using UnityEditor;
using UnityEngine;
using Yume.Bridge.Core;

namespace Yume.Bridge.Editor
{
    /// <summary>Runs one handshake (hello, retry, welcome, bye) on the editor's update loop and reports the outcome.</summary>
    internal sealed class ConnectionProbe
    {
        const double TimeoutSeconds = 12;
        readonly string host, token;
        readonly int port;
        BridgeConnection connection;
        double startedAt;

        public ConnectionProbe(string host, int port, string token)
        {
            this.host = host;
            this.port = port;
            this.token = token;
            Result = "Testing…";
            Type = MessageType.Info;
        }

        public bool Running => connection != null;
        public string Result { get; private set; }
        public MessageType Type { get; private set; }

        public void Start()
        {
            try
            {
                connection = new BridgeConnection(host, port, new ClientOptions(
                    token: string.IsNullOrEmpty(token) ? null : token.Trim(), engine: "Unity editor " + Application.unityVersion));
                connection.Start();
            }
            catch (Exception e)
            {
                connection = null;
                Finish($"Cannot reach {host}:{port}: {e.Message}", MessageType.Error);
                return;
            }
            startedAt = EditorApplication.timeSinceStartup;
            EditorApplication.update += Poll;
            AssemblyReloadEvents.beforeAssemblyReload += Cancel;
        }

        void Poll()
        {
            if (connection == null) return;
            ClientEvent e;
            while (connection != null && connection.TryDequeueEvent(out e))
            {
                if (e is SessionConnected connected)
                {
                    var w = connected.Welcome;
                    Finish($"Connected to {host}:{port}: {w.Backend} {w.Model} {w.ModelVersion}, daemon {w.DaemonVersion}, " +
                           $"{w.Width}×{w.Height} @ {w.Fps:0.#} fps, generator {w.State}" +
                           (w.Authenticated ? ", token accepted." : ", no token needed."), MessageType.Info);
                    return;
                }
                if (e is SessionClosed closed)
                {
                    Finish(closed.Message, MessageType.Error);
                    return;
                }
            }
            if (EditorApplication.timeSinceStartup - startedAt > TimeoutSeconds)
                Finish($"No result from {host}:{port} within {TimeoutSeconds} s.", MessageType.Error);
        }

        void Finish(string result, MessageType type)
        {
            Result = result;
            Type = type;
            Cancel();
            if (type == MessageType.Error) Debug.LogError("[Yume Bridge] Test connection: " + result);
            else Debug.Log("[Yume Bridge] Test connection: " + result);
        }

        public void Cancel()
        {
            EditorApplication.update -= Poll;
            AssemblyReloadEvents.beforeAssemblyReload -= Cancel;
            connection?.Dispose(); // sends bye when the session opened
            connection = null;
        }
    }
}
