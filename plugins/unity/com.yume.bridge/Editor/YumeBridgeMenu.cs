// Menu items: create a ready-to-run stream client, and test the connection of the selected one.
using UnityEditor;
using UnityEngine;

namespace Yume.Bridge.Editor
{
    static class YumeBridgeMenu
    {
        [MenuItem("GameObject/Yume Bridge/Stream Client (full-screen view)", false, 10)]
        static void CreateClient(MenuCommand command)
        {
            var go = new GameObject("Yume Bridge Client");
            go.AddComponent<YumeBridgeClient>();
            go.AddComponent<YumeFullscreenView>();
            GameObjectUtility.SetParentAndAlign(go, command.context as GameObject);
            Undo.RegisterCreatedObjectUndo(go, "Create Yume Bridge Client");
            Selection.activeObject = go;
        }

        [MenuItem("Tools/Yume Bridge/Test Connection of Selected Client")]
        static void TestSelected()
        {
            var client = Selection.activeGameObject != null ? Selection.activeGameObject.GetComponent<YumeBridgeClient>() : null;
            var probe = client != null
                ? new ConnectionProbe(client.Host, client.Port, client.Token)
                : new ConnectionProbe("127.0.0.1", 47800, null);
            if (client == null) Debug.Log("[Yume Bridge] No Yume Bridge Client selected: testing 127.0.0.1:47800 without a token.");
            probe.Start(); // logs the outcome to the Console
        }
    }
}
