#include "YumeBridgeModule.h"

#include "IImageWrapperModule.h"
#include "Modules/ModuleManager.h"

DEFINE_LOG_CATEGORY(LogYumeBridge);

void FYumeBridgeModule::StartupModule()
{
	// Load the JPEG decoder here, on the game thread, so that worker threads only ever use it.
	FModuleManager::LoadModuleChecked<IImageWrapperModule>(TEXT("ImageWrapper"));
}

void FYumeBridgeModule::ShutdownModule()
{
}

IMPLEMENT_MODULE(FYumeBridgeModule, YumeBridge)
