// Reconnecting: the backoff policy, and a connection that must not block its caller on name resolution.
using System.Diagnostics;
using System.Threading;
using NUnit.Framework;
using Yume.Bridge.Core;

namespace Yume.Bridge.Tests
{
    [TestFixture]
    public class ReconnectTests
    {
        [Test]
        public void Each_failure_doubles_the_wait_up_to_the_maximum()
        {
            var policy = new ReconnectPolicy(1, 8);
            var waits = new double[6];
            for (int i = 0; i < waits.Length; i++) waits[i] = policy.NextDelay(CloseReason.Unreachable).Value;
            CollectionAssert.AreEqual(new double[] { 1, 2, 4, 8, 8, 8 }, waits);
        }

        [Test]
        public void A_session_that_opened_resets_the_wait()
        {
            var policy = new ReconnectPolicy(1, 30);
            policy.NextDelay(CloseReason.DaemonSilent);
            policy.NextDelay(CloseReason.DaemonSilent);
            policy.Succeeded();
            Assert.AreEqual(1.0, policy.NextDelay(CloseReason.DaemonSilent));
        }

        [TestCase(CloseReason.AuthFailed)]
        [TestCase(CloseReason.AuthRequired)]
        [TestCase(CloseReason.VersionMismatch)]
        [TestCase(CloseReason.ClientClosed)]
        public void What_only_a_person_can_fix_is_not_retried(CloseReason reason)
        {
            Assert.IsNull(new ReconnectPolicy().NextDelay(reason));
        }

        [TestCase(CloseReason.Unreachable)]
        [TestCase(CloseReason.SessionLimit)]
        [TestCase(CloseReason.UnknownSession)]
        [TestCase(CloseReason.DaemonBye)]
        public void What_may_heal_by_itself_is_retried(CloseReason reason)
        {
            Assert.IsNotNull(new ReconnectPolicy().NextDelay(reason));
        }

        [Test]
        public void A_session_the_daemon_replaced_with_a_newer_one_is_not_fought_over()
        {
            var replaced = new SessionClosed(CloseReason.DaemonBye, ByeReasons.Replaced, "replaced");
            Assert.IsNull(new ReconnectPolicy().NextDelay(replaced));
        }

        [Test]
        public void A_host_that_does_not_resolve_ends_the_session_instead_of_blocking_start()
        {
            // RFC 6761: names under .invalid never resolve.
            using (var connection = new BridgeConnection("no-such-daemon.invalid", 47800, new ClientOptions()))
            {
                connection.Start(); // returns before resolution; the network thread reports the outcome
                var clock = Stopwatch.StartNew();
                SessionClosed closed = null;
                while (closed == null && clock.Elapsed.TotalSeconds < 60)
                {
                    ClientEvent e;
                    while (closed == null && connection.TryDequeueEvent(out e)) closed = e as SessionClosed;
                    Thread.Sleep(10);
                }
                Assert.IsNotNull(closed, "no close within 60 s");
                Assert.AreEqual(CloseReason.Unreachable, closed.Reason);
                StringAssert.Contains("no-such-daemon.invalid", closed.Message);
                Assert.AreEqual(ClientSessionState.Closed, connection.State);
            }
        }
    }

    [TestFixture]
    public class KeyNameTests
    {
        [TestCase("Return", "Enter")]
        [TestCase("KeypadEnter", "NumpadEnter")]
        [TestCase("Alpha1", "Digit1")]
        [TestCase("Alpha0", "Digit0")]
        [TestCase("Keypad7", "Numpad7")]
        [TestCase("LeftControl", "LeftCtrl")]
        [TestCase("RightControl", "RightCtrl")]
        [TestCase("LeftCommand", "LeftMeta")]
        [TestCase("BackQuote", "Backquote")]
        [TestCase("E", "E")]
        [TestCase("Space", "Space")]
        [TestCase("F5", "F5")]
        [TestCase("UpArrow", "UpArrow")]
        public void A_legacy_key_code_maps_to_its_input_system_key(string keyCode, string key)
        {
            Assert.AreEqual(key, UnityKeyNames.ToInputSystem(keyCode));
        }

        [TestCase("Mouse0")]
        [TestCase("JoystickButton3")]
        [TestCase("None")]
        public void Buttons_that_are_no_keyboard_key_map_to_nothing(string keyCode)
        {
            Assert.IsNull(UnityKeyNames.ToInputSystem(keyCode));
        }
    }

    [TestFixture]
    public class InputReuseTests
    {
        [Test]
        public void An_unchanged_input_matches_the_state_built_from_it()
        {
            var state = new InputState(0.5, 1, 0, -0.25, new[] { KeyCodes.W, KeyCodes.W, "", KeyCodes.D });
            Assert.IsTrue(state.Matches(0.5, 1, 0, -0.25, new[] { KeyCodes.W, KeyCodes.D }));
            Assert.IsTrue(state.Matches(0.5, 3, 0, -0.25, new[] { KeyCodes.W, "", KeyCodes.W, KeyCodes.D }), "clamped, deduplicated");
        }

        [Test]
        public void A_changed_axis_or_key_does_not_match()
        {
            var state = new InputState(0, 1, 0, 0, new[] { KeyCodes.W });
            Assert.IsFalse(state.Matches(0, 0.9, 0, 0, new[] { KeyCodes.W }));
            Assert.IsFalse(state.Matches(0, 1, 0, 0, new[] { KeyCodes.W, KeyCodes.A }));
            Assert.IsFalse(state.Matches(0, 1, 0, 0, null));
        }
    }
}
