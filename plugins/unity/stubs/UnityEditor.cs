// Compile-only stand-ins for the UnityEditor API the editor code uses. Never shipped.
using System;
using System.Collections.Generic;
using UnityEngine;

namespace UnityEditor
{
    public class SerializedProperty
    {
        public string stringValue { get; set; }
        public int intValue { get; set; }
    }

    public class SerializedObject
    {
        public SerializedObject(UnityEngine.Object obj) { }
        public UnityEngine.Object targetObject => null;
        public bool Update() => true;
        public bool ApplyModifiedProperties() => true;
        public SerializedProperty FindProperty(string propertyPath) => null;
    }

    public class Editor : ScriptableObject
    {
        public UnityEngine.Object target { get; set; }
        public UnityEngine.Object[] targets { get; set; }
        public SerializedObject serializedObject => null;
        public virtual void OnInspectorGUI() { }
        public bool DrawDefaultInspector() => true;
        public void Repaint() { }
        public virtual bool RequiresConstantRepaint() => false;
    }

    [AttributeUsage(AttributeTargets.Class)]
    public sealed class CustomEditor : Attribute
    {
        public CustomEditor(Type inspectedType) { }
    }

    [AttributeUsage(AttributeTargets.Class)]
    public sealed class CanEditMultipleObjects : Attribute { }

    [AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
    public sealed class MenuItem : Attribute
    {
        public MenuItem(string itemName) { }
        public MenuItem(string itemName, bool isValidateFunction) { }
        public MenuItem(string itemName, bool isValidateFunction, int priority) { }
    }

    public sealed class MenuCommand
    {
        public UnityEngine.Object context;
    }

    public enum MessageType { None, Info, Warning, Error }

    public static class EditorGUILayout
    {
        public static void HelpBox(string message, MessageType type) { }
        public static void LabelField(string label) { }
        public static void LabelField(string label, string label2) { }
        public static void Space() { }
        public static string TextField(string label, string text) => text;
        public static bool PropertyField(SerializedProperty property, params GUILayoutOption[] options) => false;
        public static void BeginHorizontal() { }
        public static void EndHorizontal() { }
    }

    public static class EditorGUI
    {
        public static void BeginDisabledGroup(bool disabled) { }
        public static void EndDisabledGroup() { }
    }

    public static class EditorStyles
    {
        public static GUIStyle boldLabel => null;
    }

    public static class EditorApplication
    {
        public delegate void CallbackFunction();
        public static CallbackFunction update;
        public static bool isPlaying => false;
        public static double timeSinceStartup => 0;
    }

    public static class EditorUtility
    {
        public static void SetDirty(UnityEngine.Object target) { }
        public static bool DisplayDialog(string title, string message, string ok) => true;
        public static bool DisplayDialog(string title, string message, string ok, string cancel) => true;
    }

    /// <summary>Present so that a public type named SessionState in the plugin clashes here as it does in Unity (CS0104).</summary>
    public static class SessionState
    {
        public static bool GetBool(string key, bool defaultValue) => defaultValue;
        public static void SetBool(string key, bool value) { }
        public static string GetString(string key, string defaultValue) => defaultValue;
        public static void SetString(string key, string value) { }
        public static void EraseString(string key) { }
    }

    public enum SettingsScope { User, Project }

    public class SettingsProvider
    {
        public SettingsProvider(string path, SettingsScope scopes, IEnumerable<string> keywords = null) { }
        public string label { get; set; }
        public virtual void OnGUI(string searchContext) { }
        public virtual void OnActivate(string searchContext, UnityEngine.UIElements.VisualElement rootElement) { }
        public virtual void OnDeactivate() { }
    }

    [AttributeUsage(AttributeTargets.Method)]
    public sealed class SettingsProviderAttribute : Attribute { }

    public static class AssetDatabase
    {
        public static T LoadAssetAtPath<T>(string assetPath) where T : UnityEngine.Object => null;
        public static void CreateAsset(UnityEngine.Object asset, string path) { }
        public static void SaveAssets() { }
        public static bool IsValidFolder(string path) => false;
        public static string CreateFolder(string parentFolder, string newFolderName) => "";
    }

    public static class AssemblyReloadEvents
    {
        public delegate void AssemblyReloadCallback();
        public static event AssemblyReloadCallback beforeAssemblyReload;
        public static event AssemblyReloadCallback afterAssemblyReload;
        static void Silence() { beforeAssemblyReload?.Invoke(); afterAssemblyReload?.Invoke(); }
    }

    public static class EditorPrefs
    {
        public static string GetString(string key, string defaultValue) => defaultValue;
        public static void SetString(string key, string value) { }
        public static bool HasKey(string key) => false;
        public static void DeleteKey(string key) { }
    }

    public static class Undo
    {
        public static void RegisterCreatedObjectUndo(UnityEngine.Object objectToUndo, string name) { }
    }

    public static class Selection
    {
        public static GameObject activeGameObject { get; set; }
        public static UnityEngine.Object activeObject { get; set; }
    }

    public static class GameObjectUtility
    {
        public static void SetParentAndAlign(GameObject child, GameObject parent) { }
    }
}

namespace UnityEngine.UIElements
{
    public class VisualElement { }
}
