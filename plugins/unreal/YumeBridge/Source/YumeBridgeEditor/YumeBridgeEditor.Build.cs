// The Yume Bridge editor module: "Test connection" and "Find daemons" in Project Settings > Plugins > Yume Bridge.
using UnrealBuildTool;

public class YumeBridgeEditor : ModuleRules
{
	public YumeBridgeEditor(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;

		PrivateDependencyModuleNames.AddRange(new string[]
		{
			"Core",
			"CoreUObject",
			"Engine",
			"Slate",
			"SlateCore",
			"PropertyEditor",
			"YumeBridge",
		});
	}
}
