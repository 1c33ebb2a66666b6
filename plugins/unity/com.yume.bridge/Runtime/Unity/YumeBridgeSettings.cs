// Project-wide defaults for new Yume Bridge clients (Project Settings › Yume Bridge). Kept in
// Assets/Resources/YumeBridgeSettings.asset so that builds can read them too. The token is deliberately
// NOT stored here (the asset ships inside builds): set it per client, or in the YUME_BRIDGE_TOKEN
// environment variable of the machine that runs the game.
using System;
using UnityEngine;

namespace Yume.Bridge
{
    public sealed class YumeBridgeSettings : ScriptableObject
    {
        /// <summary>Name under a Resources folder.</summary>
        public const string ResourceName = "YumeBridgeSettings";

        /// <summary>Read when a client's Token field is empty; never written to any asset.</summary>
        public const string TokenEnvironmentVariable = "YUME_BRIDGE_TOKEN";

        [Tooltip("Daemon address for new clients.")]
        public string host = "127.0.0.1";
        [Tooltip("Daemon UDP port for new clients.")]
        public int port = 47800;
        public YumeEncoding encoding = YumeEncoding.MessagePack;
        public YumeResolution resolution = YumeResolution.DaemonDefault;
        [Range(1, 100)] public int jpegQuality = 85;
        [Tooltip("Reconnect with backoff after a lost connection.")]
        public bool autoReconnect = true;
        [Tooltip("Seconds to browse the LAN when the Find button is pressed.")]
        [Range(0.5f, 10)] public float discoverySeconds = 2;

        static YumeBridgeSettings cached;

        /// <summary>The project's settings asset, or built-in defaults when there is none.</summary>
        public static YumeBridgeSettings Current
        {
            get
            {
                if (cached == null) cached = Resources.Load<YumeBridgeSettings>(ResourceName);
                if (cached == null) cached = CreateInstance<YumeBridgeSettings>();
                return cached;
            }
        }

        /// <summary>Forget the cached asset (the editor calls this after creating or changing it).</summary>
        public static void Invalidate() => cached = null;

        /// <summary>The token from the environment, or null.</summary>
        public static string TokenFromEnvironment()
        {
            try
            {
                var value = Environment.GetEnvironmentVariable(TokenEnvironmentVariable);
                return string.IsNullOrEmpty(value) ? null : value.Trim();
            }
            catch (System.Security.SecurityException)
            {
                return null;
            }
        }
    }
}
