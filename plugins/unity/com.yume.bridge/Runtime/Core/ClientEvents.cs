// What a client session reports to its owner, one immutable class per kind, read with NextEvent().
namespace Yume.Bridge.Core
{
    public abstract class ClientEvent
    {
        public override string ToString() => GetType().Name;
    }

    /// <summary>The handshake completed; the welcome says what the daemon chose.</summary>
    public sealed class SessionConnected : ClientEvent
    {
        public SessionConnected(WelcomeMessage welcome) { Welcome = welcome; }
        public WelcomeMessage Welcome { get; }
    }

    /// <summary>A complete frame, the newest so far. Only the newest undelivered frame is ever queued.</summary>
    public sealed class FrameArrived : ClientEvent
    {
        public FrameArrived(CompleteFrame frame) { Frame = frame; }
        public CompleteFrame Frame { get; }
    }

    public sealed class StatusReceived : ClientEvent
    {
        public StatusReceived(StatusMessage status) { Status = status; }
        public StatusMessage Status { get; }
    }

    public sealed class WorldStarted : ClientEvent
    {
        public WorldStarted(StartedMessage started) { Started = started; }
        public StartedMessage Started { get; }
    }

    public sealed class StartFailed : ClientEvent
    {
        public StartFailed(string code, string message)
        {
            Code = code;
            Message = message;
        }

        public string Code { get; }
        public string Message { get; }
    }

    public sealed class EventAcknowledged : ClientEvent
    {
        public EventAcknowledged(EventAckMessage ack, double roundTripSeconds)
        {
            Ack = ack;
            RoundTripSeconds = roundTripSeconds;
        }

        public uint Id => Ack.Id;
        public EventAckMessage Ack { get; }

        /// <summary>From the first send of the event to its ack.</summary>
        public double RoundTripSeconds { get; }
    }

    public sealed class EventFailed : ClientEvent
    {
        public EventFailed(uint id, string code, string message)
        {
            Id = id;
            Code = code;
            Message = message;
        }

        public uint Id { get; }
        public string Code { get; }
        public string Message { get; }
    }

    public sealed class UploadProgress : ClientEvent
    {
        readonly byte[] hash;

        public UploadProgress(byte[] hash, long received, long size, bool complete)
        {
            this.hash = (byte[])hash.Clone();
            Received = received;
            Size = size;
            Complete = complete;
        }

        public byte[] Hash => (byte[])hash.Clone();
        public long Received { get; }
        public long Size { get; }
        public bool Complete { get; }
    }

    public sealed class UploadFailed : ClientEvent
    {
        public UploadFailed(string code, string message)
        {
            Code = code;
            Message = message;
        }

        public string Code { get; }
        public string Message { get; }
    }

    public sealed class RttMeasured : ClientEvent
    {
        public RttMeasured(double rttMs, double smoothedRttMs)
        {
            RttMs = rttMs;
            SmoothedRttMs = smoothedRttMs;
        }

        public double RttMs { get; }
        public double SmoothedRttMs { get; }
    }

    /// <summary>Any <c>error</c> the daemon sent in this session (also reported as StartFailed/EventFailed/UploadFailed when it concerns one).</summary>
    public sealed class DaemonErrorReceived : ClientEvent
    {
        public DaemonErrorReceived(ErrorMessage error) { Error = error; }
        public ErrorMessage Error { get; }
    }

    /// <summary>Something worth a console line that does not stop the session.</summary>
    public sealed class SessionWarning : ClientEvent
    {
        public SessionWarning(string message) { Message = message; }
        public string Message { get; }
    }

    public enum CloseReason
    {
        /// <summary>The application closed the session (a bye was sent).</summary>
        ClientClosed,
        /// <summary>The daemon sent bye (shutdown, idle_timeout, replaced, ...).</summary>
        DaemonBye,
        /// <summary>No answer to hello within the handshake timeout.</summary>
        Unreachable,
        /// <summary>The daemon requires a token and none is configured.</summary>
        AuthRequired,
        /// <summary>The token is wrong.</summary>
        AuthFailed,
        /// <summary>The daemon does not speak protocol 1.</summary>
        VersionMismatch,
        SessionLimit,
        /// <summary>The daemon no longer knows the session (it restarted): connect again.</summary>
        UnknownSession,
        /// <summary>Nothing valid arrived from the daemon for the idle timeout.</summary>
        DaemonSilent,
        /// <summary>A fatal error from the daemon, or one that ended the handshake.</summary>
        FatalError,
    }

    public sealed class SessionClosed : ClientEvent
    {
        public SessionClosed(CloseReason reason, string code, string message)
        {
            Reason = reason;
            Code = code;
            Message = message;
        }

        public CloseReason Reason { get; }

        /// <summary>The protocol error code, bye reason or client-side code behind the close.</summary>
        public string Code { get; }

        /// <summary>A sentence for a console: what happened and what to do.</summary>
        public string Message { get; }

        public override string ToString() => $"SessionClosed({Reason}, {Code}): {Message}";
    }
}
