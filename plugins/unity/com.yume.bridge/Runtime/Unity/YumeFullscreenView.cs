// Shows a client's stream over the whole game view with IMGUI: no uGUI package or scene setup needed.
// Allocation-free per frame: the status line is rebuilt four times a second, from the live status.
using UnityEngine;

namespace Yume.Bridge
{
    [AddComponentMenu("Yume Bridge/Yume Fullscreen View")]
    [RequireComponent(typeof(YumeBridgeClient))]
    public sealed class YumeFullscreenView : MonoBehaviour
    {
        [Tooltip("How the frame fits the screen.")]
        [SerializeField] ScaleMode scaleMode = ScaleMode.ScaleToFit;
        [Tooltip("Draw a one-line status (readiness, fps, latency) in the top-left corner.")]
        [SerializeField] bool showStatus = true;

        /// <summary>The status line is rebuilt this often, not on every OnGUI call (which runs several times a frame).</summary>
        const float StatusRefreshSeconds = 0.25f;

        YumeBridgeClient client;
        string line = "";
        float lineBuiltAt = float.NegativeInfinity;

        void Awake() => client = GetComponent<YumeBridgeClient>();

        void OnGUI()
        {
            var texture = client != null ? client.OutputTexture : null;
            if (texture != null) GUI.DrawTexture(new Rect(0, 0, Screen.width, Screen.height), texture, scaleMode);
            if (!showStatus || client == null) return;
            float now = Time.unscaledTime;
            if (now - lineBuiltAt >= StatusRefreshSeconds)
            {
                lineBuiltAt = now;
                line = client.IsConnected ? client.LiveStatus.ToString() : DisconnectedLine();
            }
            GUI.Label(new Rect(8, 8, Screen.width - 16, 48), line);
        }

        string DisconnectedLine()
        {
            string text = $"{client.Endpoint}: {client.State}";
            if (!string.IsNullOrEmpty(client.LastProblem)) text += " — " + client.LastProblem;
            var retry = client.ReconnectIn;
            if (retry.HasValue) text += $" (retrying in {retry.Value:0} s)";
            return text;
        }
    }
}
