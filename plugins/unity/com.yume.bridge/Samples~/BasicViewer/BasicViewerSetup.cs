// Basic Viewer sample: builds a full-screen RawImage at run time, shows the Yume Bridge stream on it,
// maps WASD + mouse to the world model's axes (through the client's input settings) and sends an event
// prompt on a key press. Put it on a GameObject next to a YumeBridgeClient (one is added if missing).
using UnityEngine;
using UnityEngine.UI;

namespace Yume.Bridge.Samples
{
    [AddComponentMenu("Yume Bridge/Samples/Basic Viewer Setup")]
    public sealed class BasicViewerSetup : MonoBehaviour
    {
        [Tooltip("Pressing this key sends the event prompt below.")]
        [SerializeField] KeyCode eventKey = KeyCode.E;
        [SerializeField, TextArea(1, 3)] string eventPrompt = "a dragon circles the tower";
        [Tooltip("Pressing this key pauses or resumes generation.")]
        [SerializeField] KeyCode pauseKey = KeyCode.P;
        [Tooltip("Lock and hide the cursor so the mouse turns the view; Escape releases it.")]
        [SerializeField] bool lockCursor = true;

        YumeBridgeClient client;
        RawImage view;
        AspectRatioFitter fitter;
        string lastEventLine = "", statusLine = "", helpLine = "";
        float linesBuiltAt = float.NegativeInfinity;
        bool paused;

        void Awake()
        {
            client = GetComponent<YumeBridgeClient>();
            if (client == null) client = gameObject.AddComponent<YumeBridgeClient>(); // 127.0.0.1:47800, the daemon's default
            BuildFullScreenRawImage();
            client.OnFrame.AddListener(ShowFrame);
            client.OnConnected.AddListener(info => Debug.Log("[Basic Viewer] " + info));
            client.OnError.AddListener((code, reason) => lastEventLine = $"error {code}: {reason}");
        }

        void OnDestroy()
        {
            if (client != null) client.OnFrame.RemoveListener(ShowFrame);
        }

        void BuildFullScreenRawImage()
        {
            var canvasObject = new GameObject("Yume Bridge Canvas");
            var canvas = canvasObject.AddComponent<Canvas>();
            canvas.renderMode = RenderMode.ScreenSpaceOverlay;
            var scaler = canvasObject.AddComponent<CanvasScaler>();
            scaler.uiScaleMode = CanvasScaler.ScaleMode.ScaleWithScreenSize;
            scaler.referenceResolution = new Vector2(1920, 1080);

            var imageObject = new GameObject("Yume Bridge Stream");
            imageObject.transform.SetParent(canvasObject.transform, false);
            view = imageObject.AddComponent<RawImage>();
            view.color = Color.black; // until the first frame arrives
            view.raycastTarget = false;
            var rect = view.rectTransform;
            rect.anchorMin = Vector2.zero;
            rect.anchorMax = Vector2.one;
            rect.offsetMin = Vector2.zero;
            rect.offsetMax = Vector2.zero;
            fitter = imageObject.AddComponent<AspectRatioFitter>();
            fitter.aspectMode = AspectRatioFitter.AspectMode.FitInParent;
            fitter.aspectRatio = 960f / 544f;
        }

        void ShowFrame(Texture frame)
        {
            view.texture = frame;
            view.color = Color.white;
            fitter.aspectRatio = (float)frame.width / Mathf.Max(1, frame.height);
        }

        void Update()
        {
            var source = client.InputSettings.source;
            if (YumeInputSampler.WasPressedThisFrame(source, eventKey))
            {
                lastEventLine = $"sending \"{eventPrompt}\"…";
                client.SendEvent(eventPrompt, result => lastEventLine = result.acknowledged
                    ? $"event {result.id} acknowledged: applies from chunk {result.chunk}"
                    : $"event {result.id} failed: {result.code} {result.message}");
            }
            if (YumeInputSampler.WasPressedThisFrame(source, pauseKey))
            {
                paused = !paused;
                client.SetPaused(paused);
            }
            if (lockCursor)
            {
                bool release = YumeInputSampler.WasPressedThisFrame(source, KeyCode.Escape);
                if (release) lockCursor = false;
                Cursor.lockState = release ? CursorLockMode.None : CursorLockMode.Locked;
                Cursor.visible = release;
            }
        }

        void OnGUI()
        {
            // OnGUI runs several times a frame: rebuild the two lines 4× a second, not on every call (no garbage).
            if (Time.unscaledTime - linesBuiltAt >= 0.25f)
            {
                linesBuiltAt = Time.unscaledTime;
                statusLine = client.IsConnected ? client.Status.ToString()
                                                : $"{client.Endpoint}: {client.State} {client.LastProblem}";
                helpLine = $"WASD move · mouse look · {eventKey} event · {pauseKey} pause · Esc release cursor   {lastEventLine}";
            }
            GUI.Label(new Rect(10, 10, Screen.width - 20, 44), statusLine);
            GUI.Label(new Rect(10, 54, Screen.width - 20, 22), helpLine);
        }
    }
}
