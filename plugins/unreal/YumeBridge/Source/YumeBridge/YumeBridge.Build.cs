// The Yume Bridge runtime module: a thin Unreal shell (socket thread, JPEG decode, texture upload,
// Blueprint API) over the engine-free protocol core in Private/YumeBridgeCore.
using UnrealBuildTool;

public class YumeBridge : ModuleRules
{
	public YumeBridge(ReadOnlyTargetRules Target) : base(Target)
	{
		PCHUsage = PCHUsageMode.UseExplicitOrSharedPCHs;

		// The core is standard C++17 without exceptions or RTTI, like the engine itself.
		bEnableExceptions = false;
		bUseRTTI = false;

		PublicDependencyModuleNames.AddRange(new string[]
		{
			"Core",
			"CoreUObject",
			"Engine",
			"DeveloperSettings",
		});

		PrivateDependencyModuleNames.AddRange(new string[]
		{
			"Sockets",
			"Networking",
			"ImageWrapper",
			"RenderCore",
			"RHI",
		});
	}
}
