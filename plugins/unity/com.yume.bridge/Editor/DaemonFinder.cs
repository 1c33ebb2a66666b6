// The inspector's "Find" button: browses the LAN (and this machine) for daemons by DNS-SD on a background
// task, so the editor never waits on the network, and lists what answered.
using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using UnityEditor;
using Yume.Bridge.Core;

namespace Yume.Bridge.Editor
{
    internal sealed class DaemonFinder
    {
        Task<List<DiscoveredDaemon>> browse;

        public bool Running => browse != null && !browse.IsCompleted;
        public List<DiscoveredDaemon> Found { get; private set; }
        public string Message { get; private set; }
        public MessageType Type { get; private set; } = MessageType.Info;

        public void Start(double seconds)
        {
            if (Running) return;
            Found = null;
            Message = $"Browsing for {DnsSdCodec.ServiceType} for {seconds:0.#} s…";
            Type = MessageType.Info;
            browse = DaemonDiscovery.BrowseAsync(seconds);
        }

        /// <summary>Collects the result once the browse has finished; call from OnInspectorGUI.</summary>
        public void Poll()
        {
            if (browse == null || !browse.IsCompleted) return;
            var finished = browse;
            browse = null;
            if (finished.IsFaulted)
            {
                Exception error = finished.Exception?.GetBaseException();
                Message = "Browsing failed: " + (error != null ? error.Message : "unknown error");
                Type = MessageType.Error;
                return;
            }
            Found = finished.Result;
            Message = Found.Count == 0
                ? "No daemon answered. Start it with `yume-bridge serve --advertise` (it advertises by default only when " +
                  "bound beyond loopback), and check that the network lets multicast DNS (UDP 5353) through."
                : $"{Found.Count} daemon(s) answered.";
            Type = Found.Count == 0 ? MessageType.Warning : MessageType.Info;
        }
    }
}
