// Adds a "Connection" section to Project Settings > Plugins > Yume Bridge with two buttons: "Test
// connection" opens and closes a session with the configured daemon, "Find daemons" browses the LAN
// by DNS-SD. Each answers in an editor notification; neither blocks the editor.
#include "YumeBridgeSettings.h"
#include "YumeBridgeTools.h"

#include "DetailCategoryBuilder.h"
#include "DetailLayoutBuilder.h"
#include "DetailWidgetRow.h"
#include "Framework/Notifications/NotificationManager.h"
#include "IDetailCustomization.h"
#include "Modules/ModuleInterface.h"
#include "Modules/ModuleManager.h"
#include "PropertyEditorModule.h"
#include "Widgets/Input/SButton.h"
#include "Widgets/Layout/SWrapBox.h"
#include "Widgets/Notifications/SNotificationList.h"
#include "Widgets/Text/STextBlock.h"

#define LOCTEXT_NAMESPACE "YumeBridgeEditor"

namespace
{
	void Notify(bool bOk, const FString& Message)
	{
		FNotificationInfo Info(FText::FromString(Message));
		Info.ExpireDuration = bOk ? 6.f : 12.f;
		Info.bUseSuccessFailIcons = true;
		TSharedPtr<SNotificationItem> Item = FSlateNotificationManager::Get().AddNotification(Info);
		if (Item.IsValid())
		{
			Item->SetCompletionState(bOk ? SNotificationItem::CS_Success : SNotificationItem::CS_Fail);
		}
	}

	class FYumeBridgeSettingsCustomization final : public IDetailCustomization
	{
	public:
		static TSharedRef<IDetailCustomization> MakeInstance()
		{
			return MakeShared<FYumeBridgeSettingsCustomization>();
		}

		virtual void CustomizeDetails(IDetailLayoutBuilder& DetailBuilder) override
		{
			IDetailCategoryBuilder& Category = DetailBuilder.EditCategory(TEXT("Connection"), LOCTEXT("Connection", "Connection"),
				ECategoryPriority::Important);
			Category.AddCustomRow(LOCTEXT("TestConnectionFilter", "Test connection find daemons"))
			.WholeRowContent()
			[
				SNew(SWrapBox)
				.UseAllottedSize(true)
				+ SWrapBox::Slot().Padding(2.f)
				[
					SNew(SButton)
					.Text(LOCTEXT("TestConnection", "Test connection"))
					.ToolTipText(LOCTEXT("TestConnectionTip", "Open a session with the daemon at Default Host:Default Port and close it again."))
					.OnClicked_Lambda([]()
					{
						FYumeBridgeTools::TestConnection(FString(), 0, FString(), [](bool bOk, const FString& Message) { Notify(bOk, Message); });
						return FReply::Handled();
					})
				]
				+ SWrapBox::Slot().Padding(2.f)
				[
					SNew(SButton)
					.Text(LOCTEXT("FindDaemons", "Find daemons"))
					.ToolTipText(LOCTEXT("FindDaemonsTip", "Browse _yume-bridge._udp.local. on this machine and the LAN for two seconds."))
					.OnClicked_Lambda([]()
					{
						FYumeBridgeTools::FindDaemons(2.f, [](const TArray<FYumeBridgeDaemon>& Daemons)
						{
							if (Daemons.Num() == 0)
							{
								Notify(false, TEXT("No yume_bridge daemon answered. Start one with `yume-bridge serve --advertise`."));
								return;
							}
							FString Lines;
							for (const FYumeBridgeDaemon& Daemon : Daemons)
							{
								Lines += FString::Printf(TEXT("%s at %s:%d%s\n"), *Daemon.Name, *Daemon.Host, Daemon.Port,
									Daemon.bNeedsToken ? TEXT(" (needs a token)") : TEXT(""));
							}
							Notify(true, Lines);
						});
						return FReply::Handled();
					})
				]
			];
		}
	};
}

class FYumeBridgeEditorModule final : public IModuleInterface
{
public:
	virtual void StartupModule() override
	{
		FPropertyEditorModule& PropertyEditor = FModuleManager::LoadModuleChecked<FPropertyEditorModule>(TEXT("PropertyEditor"));
		PropertyEditor.RegisterCustomClassLayout(UYumeBridgeSettings::StaticClass()->GetFName(),
			FOnGetDetailCustomizationInstance::CreateStatic(&FYumeBridgeSettingsCustomization::MakeInstance));
	}

	virtual void ShutdownModule() override
	{
		if (FPropertyEditorModule* PropertyEditor = FModuleManager::GetModulePtr<FPropertyEditorModule>(TEXT("PropertyEditor")))
		{
			PropertyEditor->UnregisterCustomClassLayout(UYumeBridgeSettings::StaticClass()->GetFName());
		}
	}
};

#undef LOCTEXT_NAMESPACE

IMPLEMENT_MODULE(FYumeBridgeEditorModule, YumeBridgeEditor)
