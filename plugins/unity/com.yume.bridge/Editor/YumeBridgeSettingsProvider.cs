// Project Settings › Yume Bridge: the defaults new clients start from, stored in Assets/Resources so builds read them.
using System.Collections.Generic;
using UnityEditor;
using UnityEngine;

namespace Yume.Bridge.Editor
{
    sealed class YumeBridgeSettingsProvider : SettingsProvider
    {
        const string Folder = "Assets/Resources";
        const string AssetPath = Folder + "/" + YumeBridgeSettings.ResourceName + ".asset";
        static readonly string[] Fields = { "host", "port", "encoding", "resolution", "jpegQuality", "autoReconnect", "discoverySeconds" };

        SerializedObject settings;

        YumeBridgeSettingsProvider() : base("Project/Yume Bridge", SettingsScope.Project, new HashSet<string>(Fields)) { }

        [SettingsProvider]
        static SettingsProvider Create() => new YumeBridgeSettingsProvider();

        static YumeBridgeSettings LoadOrCreate()
        {
            var asset = AssetDatabase.LoadAssetAtPath<YumeBridgeSettings>(AssetPath);
            if (asset != null) return asset;
            if (!AssetDatabase.IsValidFolder(Folder)) AssetDatabase.CreateFolder("Assets", "Resources");
            asset = ScriptableObject.CreateInstance<YumeBridgeSettings>();
            AssetDatabase.CreateAsset(asset, AssetPath);
            AssetDatabase.SaveAssets();
            YumeBridgeSettings.Invalidate();
            return asset;
        }

        public override void OnGUI(string searchContext)
        {
            if (settings == null || settings.targetObject == null) settings = new SerializedObject(LoadOrCreate());
            settings.Update();
            EditorGUILayout.HelpBox("Defaults for new Yume Bridge clients (and for Reset on an existing one). Stored in " + AssetPath +
                                    ". The token is not stored here because this asset ships in builds: set it on the client, " +
                                    "or in the " + YumeBridgeSettings.TokenEnvironmentVariable + " environment variable.", MessageType.Info);
            foreach (var field in Fields) EditorGUILayout.PropertyField(settings.FindProperty(field));
            if (settings.ApplyModifiedProperties()) YumeBridgeSettings.Invalidate();
        }
    }
}
