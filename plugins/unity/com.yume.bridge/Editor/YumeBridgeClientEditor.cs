// Inspector for YumeBridgeClient: "Find" (DNS-SD browse of the LAN), "Test connection" (the real handshake
// from the editor, no Play mode needed) and, in Play mode, the live status with the latency breakdown.
using System;
using UnityEditor;
using UnityEngine;
using Yume.Bridge.Core;

namespace Yume.Bridge.Editor
{
    [CustomEditor(typeof(YumeBridgeClient))]
    public sealed class YumeBridgeClientEditor : UnityEditor.Editor
    {
        ConnectionProbe probe;
        readonly DaemonFinder finder = new DaemonFinder();

        public override void OnInspectorGUI()
        {
            var client = (YumeBridgeClient)target;
            DrawDefaultInspector();
            EditorGUILayout.Space();
            GUILayout.Label("Connection", EditorStyles.boldLabel);

            DrawFinder(client);
            if (Application.isPlaying) DrawLive(client);
            else DrawProbe(client);
        }

        public override bool RequiresConstantRepaint() => Application.isPlaying || (probe != null && probe.Running) || finder.Running;

        void DrawFinder(YumeBridgeClient client)
        {
            finder.Poll();
            EditorGUI.BeginDisabledGroup(finder.Running);
            if (GUILayout.Button(finder.Running ? "Finding…" : "Find daemons on the network")) finder.Start(YumeBridgeSettings.Current.discoverySeconds);
            EditorGUI.EndDisabledGroup();
            if (finder.Message == null) return;
            EditorGUILayout.HelpBox(finder.Message, finder.Type);
            if (finder.Found == null) return;
            foreach (var daemon in finder.Found)
            {
                var address = daemon.PreferredAddress;
                EditorGUILayout.BeginHorizontal();
                EditorGUILayout.LabelField(daemon.ToString());
                EditorGUI.BeginDisabledGroup(address == null);
                if (GUILayout.Button("Use", GUILayout.Width(48))) Use(address.ToString(), daemon.Port);
                EditorGUI.EndDisabledGroup();
                EditorGUILayout.EndHorizontal();
                var obstacle = daemon.Obstacle(!string.IsNullOrEmpty(client.Token));
                if (obstacle != null) EditorGUILayout.HelpBox(obstacle, MessageType.Warning);
            }
        }

        void Use(string host, int port)
        {
            serializedObject.Update();
            serializedObject.FindProperty("host").stringValue = host;
            serializedObject.FindProperty("port").intValue = port;
            serializedObject.ApplyModifiedProperties(); // undoable, and marks the scene dirty
        }

        void DrawProbe(YumeBridgeClient client)
        {
            EditorGUI.BeginDisabledGroup(probe != null && probe.Running);
            if (GUILayout.Button(probe != null && probe.Running ? "Testing…" : $"Test connection to {client.Endpoint}"))
            {
                probe = new ConnectionProbe(client.Host, client.Port, client.Token);
                probe.Start();
            }
            EditorGUI.EndDisabledGroup();
            if (probe != null) EditorGUILayout.HelpBox(probe.Result, probe.Type);
        }

        static void DrawLive(YumeBridgeClient client)
        {
            EditorGUILayout.LabelField("State", client.State.ToString());
            var session = client.Session;
            if (session != null) EditorGUILayout.LabelField("Session", session.ToString());
            var s = client.Status;
            EditorGUILayout.LabelField("Readiness", s.readiness + (s.readiness == "loading" || s.readiness == "warming" ? $" {s.progress:P0}" : ""));
            EditorGUILayout.LabelField("World / chunk", $"{s.world} / {s.chunk}   action {s.action}");
            EditorGUILayout.LabelField("Frames", $"{s.shownFps:0.0} fps shown, {s.daemonFps:0.0} fps sent, {s.framesShown} total, {s.nacksSent} NACKs");
            EditorGUILayout.LabelField("Daemon latency", $"queue {s.queueMs:0} + generate {s.generateMs:0} + encode {s.encodeMs:0.0} + send {s.sendMs:0.0} ms");
            EditorGUILayout.LabelField("Client latency", $"rtt {s.rttMs:0.0} ms, input→frame {s.inputToFrameMs:0} ms, decode {s.decodeMs:0.0} ms, upload {s.uploadMs:0.00} ms");
            EditorGUILayout.BeginHorizontal();
            if (client.IsConnected)
            {
                if (GUILayout.Button("Disconnect")) client.Disconnect();
            }
            else if (GUILayout.Button("Connect")) client.Connect();
            EditorGUILayout.EndHorizontal();
        }

        void OnDisable() => probe?.Cancel();
    }
}
