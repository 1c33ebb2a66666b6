// Finds and reads protocol/vectors/*.json of the yume_bridge repository at run time.
using System;
using System.Collections.Generic;
using System.IO;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    /// <summary>
    /// The shared protocol vectors. Looked up in $YUME_PROTOCOL_VECTORS, then in protocol/vectors of every
    /// parent folder of the test assembly, the working directory and the package (Unity: Packages/com.yume.bridge).
    /// When the package is installed without the repository (e.g. from a git URL) the vector tests are ignored.
    /// </summary>
    public static class ProtocolVectors
    {
        static string directory;
        static bool searched;

        public static string Directory
        {
            get
            {
                if (!searched)
                {
                    directory = Find();
                    searched = true;
                }
                return directory;
            }
        }

        static string Find()
        {
            var fromEnvironment = Environment.GetEnvironmentVariable("YUME_PROTOCOL_VECTORS");
            if (!string.IsNullOrEmpty(fromEnvironment) && File.Exists(Path.Combine(fromEnvironment, "messages.json")))
                return fromEnvironment;
            var starts = new List<string>();
            try { starts.Add(Path.GetDirectoryName(typeof(ProtocolVectors).Assembly.Location)); } catch (Exception) { }
            try { starts.Add(System.IO.Directory.GetCurrentDirectory()); } catch (Exception) { }
            try { starts.Add(Path.GetFullPath("Packages/com.yume.bridge")); } catch (Exception) { }
            foreach (var start in starts)
            {
                for (var dir = start; !string.IsNullOrEmpty(dir); dir = Path.GetDirectoryName(dir))
                {
                    var candidate = Path.Combine(Path.Combine(dir, "protocol"), "vectors");
                    if (File.Exists(Path.Combine(candidate, "messages.json"))) return candidate;
                }
            }
            return null;
        }

        /// <summary>Parses a vector file; ignores the calling test when the vectors are not reachable.</summary>
        public static WireValue Load(string fileName)
        {
            if (Directory == null)
                Assert.Ignore("protocol/vectors not found: set YUME_PROTOCOL_VECTORS or run from a checkout of the repository");
            return JsonReader.ParseDocument(File.ReadAllText(Path.Combine(Directory, fileName)));
        }

        /// <summary>A vector file that may not exist yet (protocol additions land file by file): ignores the test without it.</summary>
        public static WireValue LoadOptional(string fileName)
        {
            if (Directory == null || !File.Exists(Path.Combine(Directory, fileName)))
                Assert.Ignore(fileName + " is not in protocol/vectors of this checkout");
            return Load(fileName);
        }

        /// <summary>Names for [TestCaseSource]; a single placeholder when the vectors are missing.</summary>
        public static IEnumerable<string> NamesIn(string fileName, string listField)
        {
            if (Directory == null) return new[] { "(vectors not found)" };
            var names = new List<string>();
            foreach (var item in Load(fileName).Field(listField).AsArray) names.Add(item.Field("name").AsString);
            return names;
        }

        public static WireValue Named(string fileName, string listField, string name)
        {
            foreach (var item in Load(fileName).Field(listField).AsArray)
                if (item.Field("name").AsString == name) return item;
            Assert.Ignore("no vector named " + name);
            return null;
        }

        /// <summary>Turns the vectors' {"$bytes": hex} objects back into bytes.</summary>
        public static WireValue Plain(WireValue value)
        {
            if (value.Kind == WireKind.Map)
            {
                var bytes = value.Field("$bytes");
                if (bytes != null && value.AsMap.Count == 1) return WireValue.Bytes(ByteArrays.FromHex(bytes.AsString));
                var fields = new List<KeyValuePair<string, WireValue>>();
                foreach (var field in value.AsMap) fields.Add(new KeyValuePair<string, WireValue>(field.Key, Plain(field.Value)));
                return WireValue.Map(fields);
            }
            if (value.Kind == WireKind.Array)
            {
                var items = new List<WireValue>();
                foreach (var item in value.AsArray) items.Add(Plain(item));
                return WireValue.Array(items);
            }
            return value;
        }

        public static byte[] Hex(WireValue value) => ByteArrays.FromHex(value.AsString);
    }
}
