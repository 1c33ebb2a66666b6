// protocol/vectors/frames.json: every delivery scenario through the reassembler, and the splitting rule.
using System.Collections.Generic;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class FrameVectorTests
    {
        public static IEnumerable<string> ScenarioNames => ProtocolVectors.NamesIn("frames.json", "scenarios");

        static WireValue Vectors => ProtocolVectors.Load("frames.json");

        static uint U32(WireValue value)
        {
            ulong result;
            value.TryGetUInt64(out result);
            return (uint)result;
        }

        [TestCaseSource("ScenarioNames")]
        public void Scenario_completes_and_leaves_missing_exactly_as_the_vector_says(string name)
        {
            var vectors = Vectors;
            var scenario = ProtocolVectors.Named("frames.json", "scenarios", name);
            var pool = vectors.Field("datagrams").AsArray;
            var reassembler = new FrameReassembler(U32(vectors.Field("receiver_session")), new ReassemblyOptions());
            var completed = new List<uint>();
            var payloads = new Dictionary<uint, byte[]>();
            double now = 10.0;
            foreach (var index in scenario.Field("deliver").AsArray)
            {
                var datagram = ProtocolVectors.Hex(pool[(int)U32(index)]);
                reassembler.Push(datagram, datagram.Length, now);
                var frame = reassembler.TakeCompletedFrame();
                if (frame != null)
                {
                    completed.Add(frame.Frame);
                    payloads[frame.Frame] = frame.Jpeg;
                }
                now += 0.001;
            }
            var expectedComplete = new List<uint>();
            foreach (var f in scenario.Field("complete").AsArray) expectedComplete.Add(U32(f));
            CollectionAssert.AreEqual(expectedComplete, completed, "frames completed");

            foreach (var frameVector in vectors.Field("frames").AsArray)
            {
                uint number = U32(frameVector.Field("frame"));
                if (payloads.ContainsKey(number))
                    CollectionAssert.AreEqual(ProtocolVectors.Hex(frameVector.Field("payload")), payloads[number], "payload of " + number);
            }

            var expectedMissing = new SortedDictionary<uint, int[]>();
            foreach (var entry in scenario.Field("missing").AsMap)
            {
                var indices = new List<int>();
                foreach (var i in entry.Value.AsArray) indices.Add((int)U32(i));
                expectedMissing[uint.Parse(entry.Key)] = indices.ToArray();
            }
            var actualMissing = reassembler.MissingByFrame();
            CollectionAssert.AreEqual(expectedMissing.Keys, actualMissing.Keys, "incomplete frames");
            foreach (var frame in expectedMissing.Keys)
                CollectionAssert.AreEqual(expectedMissing[frame], actualMissing[frame], "missing fragments of " + frame);
        }

        [Test]
        public void Complete_frames_carry_the_header_fields_of_their_fragments()
        {
            var vectors = Vectors;
            var pool = vectors.Field("datagrams").AsArray;
            var reassembler = new FrameReassembler(7, new ReassemblyOptions());
            foreach (var frameVector in vectors.Field("frames").AsArray)
            {
                foreach (var index in frameVector.Field("datagrams").AsArray)
                {
                    var datagram = ProtocolVectors.Hex(pool[(int)U32(index)]);
                    reassembler.Push(datagram, datagram.Length, 1.0);
                }
                var frame = reassembler.TakeCompletedFrame();
                var header = frameVector.Field("header");
                Assert.IsNotNull(frame);
                Assert.AreEqual(U32(header.Field("frame")), frame.Frame);
                Assert.AreEqual(U32(header.Field("chunk")), frame.Chunk);
                Assert.AreEqual((int)U32(header.Field("frame_in_chunk")), frame.FrameInChunk);
                Assert.AreEqual(U32(header.Field("input_seq")), frame.InputSeq);
                Assert.AreEqual((ulong)U32(header.Field("time_us")), frame.DaemonTimeUs);
                Assert.AreEqual((int)U32(header.Field("action")), frame.Action);
                Assert.AreEqual((U32(header.Field("flags")) & 2) != 0, frame.IsLastInChunk);
            }
        }

        [Test]
        public void Splitting_the_vector_payloads_reproduces_the_vector_datagrams()
        {
            var vectors = Vectors;
            var pool = vectors.Field("datagrams").AsArray;
            int maxDatagram = (int)U32(vectors.Field("max_datagram"));
            foreach (var frameVector in vectors.Field("frames").AsArray)
            {
                var h = frameVector.Field("header");
                var split = TestFrames.Split(ProtocolVectors.Hex(frameVector.Field("payload")), U32(h.Field("session")),
                                             U32(h.Field("frame")), maxDatagram, U32(h.Field("chunk")),
                                             (int)U32(h.Field("frame_in_chunk")), U32(h.Field("input_seq")),
                                             U32(h.Field("time_us")), (int)U32(h.Field("action")),
                                             (FragmentFlags)U32(h.Field("flags")));
                var indices = frameVector.Field("datagrams").AsArray;
                Assert.AreEqual(indices.Count, split.Count);
                for (int i = 0; i < split.Count; i++)
                    Assert.AreEqual(pool[(int)U32(indices[i])].AsString, ByteArrays.ToHex(split[i]));
            }
        }
    }
}
