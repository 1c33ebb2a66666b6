// Inspector for YumeBridgeClient: a "Test connection" button that runs the real handshake from the editor
// (no Play mode needed) and, in Play mode, the live status with the latency breakdown.
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

        public override void OnInspectorGUI()
        {
            var client = (YumeBridgeClient)target;
            DrawDefaultInspector();
            EditorGUILayout.Space();
            GUILayout.Label("Connection", EditorStyles.boldLabel);

            if (Application.isPlaying) DrawLive(client);
            else DrawProbe(client);
        }

        public override bool RequiresConstantRepaint() => Application.isPlaying || (probe != null && probe.Running);

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
