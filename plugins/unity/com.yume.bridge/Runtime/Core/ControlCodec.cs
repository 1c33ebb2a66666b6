// Turns control datagrams into messages and back (SPEC §2): first-byte dispatch, body end, 0- or 16-byte tag.
using System;

namespace Yume.Bridge.Core
{
    public enum DatagramKind
    {
        /// <summary>Empty, or a first byte that names nothing: dropped without an answer.</summary>
        Unknown,
        Json,
        MsgPack,
        /// <summary>Starts with "YF": a frame fragment (SPEC §6).</summary>
        Fragment,
    }

    public enum DecodeOutcome
    {
        Decoded,
        /// <summary>Not a control datagram at all (SPEC §2 "invalid: dropped").</summary>
        Dropped,
        /// <summary>A control datagram that breaks the protocol; <see cref="ControlDecodeResult.ErrorCode"/> says how.</summary>
        Invalid,
    }

    public sealed class ControlDecodeResult
    {
        ControlDecodeResult(DecodeOutcome outcome, ControlMessage message, WireEncoding encoding, int bodyLength,
                            int tagLength, string errorCode, string detail)
        {
            Outcome = outcome;
            Message = message;
            Encoding = encoding;
            BodyLength = bodyLength;
            TagLength = tagLength;
            ErrorCode = errorCode;
            Detail = detail;
        }

        public DecodeOutcome Outcome { get; }
        public ControlMessage Message { get; }
        public WireEncoding Encoding { get; }

        /// <summary>Bytes of the encoded message; the tag, if any, follows them.</summary>
        public int BodyLength { get; }

        /// <summary>0 or 16 (<see cref="SessionAuth.TagLength"/>).</summary>
        public int TagLength { get; }

        public string ErrorCode { get; }
        public string Detail { get; }

        internal static ControlDecodeResult Decoded(ControlMessage m, WireEncoding e, int body, int tag) =>
            new ControlDecodeResult(DecodeOutcome.Decoded, m, e, body, tag, null, null);

        internal static ControlDecodeResult Dropped(string detail) =>
            new ControlDecodeResult(DecodeOutcome.Dropped, null, WireEncoding.Json, 0, 0, null, detail);

        internal static ControlDecodeResult Invalid(WireEncoding e, string code, string detail) =>
            new ControlDecodeResult(DecodeOutcome.Invalid, null, e, 0, 0, code, detail);

        public override string ToString() => Outcome == DecodeOutcome.Decoded
            ? $"{Message.Type} ({Encoding}, {BodyLength} + {TagLength} bytes)"
            : $"{Outcome} {ErrorCode} {Detail}";
    }

    public static class ControlCodec
    {
        public static DatagramKind Classify(byte[] data, int length)
        {
            if (length < 1) return DatagramKind.Unknown;
            byte first = data[0];
            if (first == 0x7b) return DatagramKind.Json;
            if ((first >= 0x80 && first <= 0x8f) || first == 0xde || first == 0xdf) return DatagramKind.MsgPack;
            if (length >= 2 && first == FragmentHeader.Magic0 && data[1] == FragmentHeader.Magic1) return DatagramKind.Fragment;
            return DatagramKind.Unknown;
        }

        public static byte[] Encode(ControlMessage message, WireEncoding encoding)
        {
            var value = message.ToWireValue();
            return encoding == WireEncoding.Json ? JsonWriter.Write(value) : MsgPackWriter.Write(value);
        }

        /// <summary>Decodes a control datagram. Never throws for bad input: the result says what was wrong.</summary>
        public static ControlDecodeResult Decode(byte[] data, int length)
        {
            var kind = Classify(data, length);
            if (kind != DatagramKind.Json && kind != DatagramKind.MsgPack)
                return ControlDecodeResult.Dropped(kind == DatagramKind.Fragment ? "a frame fragment" : "not a control datagram");
            var encoding = kind == DatagramKind.Json ? WireEncoding.Json : WireEncoding.MsgPack;
            try
            {
                int end;
                var value = encoding == WireEncoding.Json
                    ? JsonReader.Parse(data, 0, length, out end)
                    : MsgPackReader.Parse(data, 0, length, out end);
                int trailing = length - end;
                if (trailing != 0 && trailing != SessionAuth.TagLength)
                    throw ProtocolViolation.Malformed($"{trailing} bytes follow the message (0 or 16 allowed)");
                var message = FromWireValue(value, encoding);
                return ControlDecodeResult.Decoded(message, encoding, end, trailing);
            }
            catch (ProtocolViolation violation)
            {
                return ControlDecodeResult.Invalid(encoding, violation.Code, violation.Detail);
            }
            catch (ArgumentException invariant)
            {
                // A message constructor refused a value the field checks let through: still the peer's fault.
                return ControlDecodeResult.Invalid(encoding, ErrorCodes.BadMessage, invariant.Message);
            }
        }

        /// <summary>Builds the message a map describes; throws <see cref="ProtocolViolation"/>.</summary>
        public static ControlMessage FromWireValue(WireValue value, WireEncoding encoding)
        {
            if (value.Kind != WireKind.Map) throw ProtocolViolation.Malformed("the message is not a map");
            var typeValue = value.Field("type");
            if (typeValue == null) throw ProtocolViolation.Malformed("the message has no type");
            if (typeValue.Kind != WireKind.String) throw ProtocolViolation.Malformed("type is not a string");
            string type = typeValue.AsString;
            var r = new FieldReader(value, encoding, type);
            switch (type)
            {
                case "hello": return HelloMessage.Read(r);
                case "retry": return RetryMessage.Read(r);
                case "welcome": return WelcomeMessage.Read(r);
                case "upload": return UploadMessage.Read(r);
                case "upload_ack": return UploadAckMessage.Read(r);
                case "start": return StartMessage.Read(r);
                case "started": return StartedMessage.Read(r);
                case "input": return InputMessage.Read(r);
                case "event": return EventMessage.Read(r);
                case "event_ack": return EventAckMessage.Read(r);
                case "config": return ConfigMessage.Read(r);
                case "ping": return PingMessage.Read(r);
                case "pong": return PongMessage.Read(r);
                case "nack": return NackMessage.Read(r);
                case "path_challenge": return PathChallengeMessage.Read(r);
                case "path_response": return PathResponseMessage.Read(r);
                case "status": return StatusMessage.Read(r);
                case "bye": return ByeMessage.Read(r);
                case "error": return ErrorMessage.Read(r);
                default: throw ProtocolViolation.Malformed($"unknown message type \"{type}\"");
            }
        }
    }
}
