// When to try again after a session ends: exponential backoff for what may heal by itself (daemon restarting,
// network gone, session limit reached), no retry for what only a person can fix (wrong token, other protocol).
using System;

namespace Yume.Bridge.Core
{
    public sealed class ReconnectPolicy
    {
        /// <param name="initialDelaySeconds">the first wait (default 1 s)</param>
        /// <param name="maxDelaySeconds">the longest wait; each failure doubles the wait up to it (default 30 s)</param>
        public ReconnectPolicy(double initialDelaySeconds = 1, double maxDelaySeconds = 30)
        {
            if (initialDelaySeconds <= 0 || maxDelaySeconds < initialDelaySeconds)
                throw new ArgumentException("reconnect delays: 0 < initial ≤ max");
            InitialDelaySeconds = initialDelaySeconds;
            MaxDelaySeconds = maxDelaySeconds;
        }

        public double InitialDelaySeconds { get; }
        public double MaxDelaySeconds { get; }

        /// <summary>Failures since the last successful session.</summary>
        public int Attempts { get; private set; }

        /// <summary>True for a close that retrying cannot fix: it needs a changed setting or an update.</summary>
        public static bool IsPermanent(CloseReason reason) =>
            reason == CloseReason.AuthRequired || reason == CloseReason.AuthFailed || reason == CloseReason.VersionMismatch;

        /// <summary>
        /// Seconds to wait before reconnecting after <paramref name="reason"/>, or null for no reconnect (the
        /// application closed the session, or the failure is permanent).
        /// </summary>
        public double? NextDelay(CloseReason reason)
        {
            if (reason == CloseReason.ClientClosed || IsPermanent(reason)) return null;
            double delay = Math.Min(MaxDelaySeconds, InitialDelaySeconds * Math.Pow(2, Math.Min(Attempts, 30)));
            Attempts++;
            return delay;
        }

        /// <summary>As <see cref="NextDelay(CloseReason)"/>; also null when the daemon replaced the session with a newer one.</summary>
        public double? NextDelay(SessionClosed closed)
        {
            if (closed.Reason == CloseReason.DaemonBye && closed.Code == ByeReasons.Replaced) return null;
            return NextDelay(closed.Reason);
        }

        /// <summary>A session opened: the next failure waits the initial delay again.</summary>
        public void Succeeded() => Attempts = 0;
    }
}
