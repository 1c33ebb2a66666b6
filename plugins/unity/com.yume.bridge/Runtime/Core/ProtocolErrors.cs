// Error codes of protocol v1 (SPEC §8) and the one exception type the codecs use internally.
using System;

namespace Yume.Bridge.Core
{
    /// <summary>The error codes of SPEC §8, plus the client-side codes this plugin reports.</summary>
    public static class ErrorCodes
    {
        public const string BadMessage = "bad_message";
        public const string ValueOutOfRange = "value_out_of_range";
        public const string UnsupportedVersion = "unsupported_version";
        public const string AuthRequired = "auth_required";
        public const string AuthFailed = "auth_failed";
        public const string SessionLimit = "session_limit";
        public const string UnknownSession = "unknown_session";
        public const string TextTooLong = "text_too_long";
        public const string TooManyEvents = "too_many_events";
        public const string UploadTooLarge = "upload_too_large";
        public const string UploadMismatch = "upload_mismatch";
        public const string BadImage = "bad_image";
        public const string UnknownImage = "unknown_image";
        public const string GeneratorFailed = "generator_failed";
        public const string ShuttingDown = "shutting_down";
        /// <summary>v1.1: a per-session budget refused the request (not fatal; <c>ref</c> names it): resend it later.</summary>
        public const string RateLimited = "rate_limited";

        // Client-side outcomes (never on the wire).
        public const string DaemonUnreachable = "daemon_unreachable";
        public const string DaemonSilent = "daemon_silent";
        public const string NotAcknowledged = "not_acknowledged";
        public const string SocketError = "socket_error";
        public const string DecodeFallback = "decode_fallback";

        /// <summary>True for the codes the daemon answers to a hello instead of a welcome (SPEC §5.13).</summary>
        public static bool EndsHandshake(string code) =>
            code == UnsupportedVersion || code == AuthRequired || code == AuthFailed || code == SessionLimit;
    }

    /// <summary>
    /// Thrown by the codecs when a datagram breaks the protocol. It never escapes
    /// <see cref="ControlCodec.Decode"/>: callers get a <see cref="ControlDecodeResult"/> instead.
    /// </summary>
    public sealed class ProtocolViolation : Exception
    {
        public ProtocolViolation(string code, string detail) : base(code + ": " + detail)
        {
            Code = code;
            Detail = detail;
        }

        public string Code { get; }
        public string Detail { get; }

        public static ProtocolViolation Malformed(string detail) => new ProtocolViolation(ErrorCodes.BadMessage, detail);
        public static ProtocolViolation OutOfRange(string detail) => new ProtocolViolation(ErrorCodes.ValueOutOfRange, detail);
    }
}
