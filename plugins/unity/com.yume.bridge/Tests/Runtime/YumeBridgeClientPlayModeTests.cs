// PlayMode tests of the component itself (what the engine-free core tests cannot reach): reconnecting from a
// callback, connecting without blocking on DNS, the reconnect schedule, and frames from a loopback daemon reaching
// an RGBA32 texture, the material's main texture and a RenderTexture.
// They run in Unity's Test Runner (PlayMode); in CI they are only compiled, against stand-ins.
using System.Collections;
using NUnit.Framework;
using UnityEngine;
using UnityEngine.TestTools;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    public class YumeBridgeClientPlayModeTests
    {
        const string Unresolvable = "no-such-daemon.invalid"; // RFC 6761: never resolves
        GameObject host;
        YumeBridgeClient client;

        [SetUp]
        public void CreateClient()
        {
            host = new GameObject("Yume Bridge test client");
            host.SetActive(false); // so that OnEnable does not connect before the test sets the host
            client = host.AddComponent<YumeBridgeClient>();
            client.Host = Unresolvable;
            client.AutoReconnect = false;
            host.SetActive(true);
        }

        [TearDown]
        public void DestroyClient() => Object.Destroy(host);

        static IEnumerator Until(System.Func<bool> condition, float seconds)
        {
            float deadline = Time.realtimeSinceStartup + seconds;
            while (!condition() && Time.realtimeSinceStartup < deadline) yield return null;
        }

        [UnityTest]
        public IEnumerator Connect_returns_at_once_and_reports_an_unresolvable_host_later()
        {
            client.Disconnect();
            string code = null;
            client.OnDisconnected.AddListener((c, message) => code = c);
            client.Connect(); // must not throw or block: resolution happens on the network thread
            Assert.IsNull(code, "the failure arrives later, on the main thread, through OnDisconnected");
            Assert.AreNotEqual(ClientSessionState.Idle, client.State);
            yield return Until(() => code != null, 60);
            Assert.AreEqual(ErrorCodes.DaemonUnreachable, code);
            Assert.AreEqual(ClientSessionState.Idle, client.State);
        }

        [UnityTest]
        public IEnumerator A_connect_made_from_OnDisconnected_is_kept()
        {
            client.Disconnect();
            int disconnects = 0;
            client.OnDisconnected.AddListener((c, message) =>
            {
                if (++disconnects == 1) client.Connect();
            });
            client.Connect();
            yield return Until(() => disconnects > 0, 60);
            Assert.AreEqual(1, disconnects);
            Assert.AreNotEqual(ClientSessionState.Idle, client.State, "the listener's connection must survive the callback");
            yield return Until(() => disconnects > 1, 60);
            Assert.AreEqual(2, disconnects, "and it reports its own outcome");
        }

        [UnityTest]
        public IEnumerator A_lost_connection_schedules_a_reconnect_that_Disconnect_cancels()
        {
            client.Disconnect();
            client.AutoReconnect = true;
            bool closed = false;
            client.OnDisconnected.AddListener((c, message) => closed = true);
            client.Connect();
            yield return Until(() => closed, 60);
            Assert.IsTrue(client.ReconnectIn.HasValue, "unreachable is worth retrying");
            client.Disconnect();
            Assert.IsFalse(client.ReconnectIn.HasValue);
        }

        [UnityTest]
        public IEnumerator Frames_reach_an_rgba32_texture_the_materials_main_texture_and_the_render_texture()
        {
            client.Disconnect();
            using (var daemon = new LoopbackDaemon(LoopbackStreamTests.Picture, 16, 16))
            {
                var material = new Material(Shader.Find("Unlit/Texture"));
                var target = new RenderTexture(16, 16, 0);
                client.Host = "127.0.0.1";
                client.Port = daemon.Port;
                client.TargetMaterial = material;
                client.TargetRenderTexture = target;
                int frames = 0;
                client.OnFrame.AddListener(texture => frames++);
                client.Connect();
                yield return Until(() => frames >= 3, 30);
                Assert.GreaterOrEqual(frames, 3, client.LastProblem);
                Assert.AreEqual(TextureFormat.RGBA32, client.OutputTexture.format);
                Assert.AreEqual(16, client.OutputTexture.width);
                Assert.AreSame(client.OutputTexture, material.mainTexture, "mainTexture follows [MainTexture] (URP: _BaseMap)");
                client.Disconnect();
                target.Release();
                Object.Destroy(target);
                Object.Destroy(material);
            }
        }

        [Test]
        public void The_output_texture_property_defaults_to_the_shaders_main_texture()
        {
            Assert.AreEqual("", client.TargetTextureProperty, "empty means Material.mainTexture ([MainTexture]: _BaseMap in URP/HDRP)");
        }
    }
}
